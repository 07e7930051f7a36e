// hardswish (x * relu6(x + 3) / 6): forward against a float64 reference with the kinks -3 and 3
// (and 0, 6) planted among the inputs, backward (from the input) against central differences
// away from the kinks and exactly at them with PyTorch's convention (0 at x = -3, 1 at x = 3),
// in place, 1 vs 2 threads, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/activation.hpp"
#include "tests/engine/activation_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"

namespace kestrel {
namespace {

double hardswish64(double x) { return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }

const test::Activation kHardswish{ops::hardswish_forward, ops::hardswish_backward, false};

float below(float v) { return std::nextafter(v, -std::numeric_limits<float>::infinity()); }
float above(float v) { return std::nextafter(v, std::numeric_limits<float>::infinity()); }

class HardswishTest : public ::testing::TestWithParam<Shape> {};

TEST_P(HardswishTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::input_with(
      GetParam(), gen, -6.0f, 6.0f,
      {-3.0f, 3.0f, 0.0f, 6.0f, -6.0f, below(-3.0f), above(-3.0f), below(3.0f), above(3.0f)});
  Tensor y = Tensor::empty(GetParam());
  ops::hardswish_forward(ctx, x, y);
  EXPECT_TRUE(test::all_close(test::map64(test::to_double(x), hardswish64), y, 1e-6, 1e-7));
}

TEST_P(HardswishTest, BackwardAwayFromTheKinksMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  Tensor x = test::random_tensor(GetParam(), gen, -6.0f, 6.0f);
  test::keep_away_from(x, {-3.0f, 3.0f}, 1e-3f);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  const Tensor dx = test::activation_grad(ctx, kHardswish, x, dy);
  const auto f = [](const std::vector<double>& v) { return test::map64(v, hardswish64); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-5, 1e-7));
}

TEST_P(HardswishTest, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::expect_in_place_same_bits(kHardswish, test::random_tensor(GetParam(), gen, -5.0f, 5.0f),
                                  test::random_tensor(GetParam(), gen));
}

INSTANTIATE_TEST_SUITE_P(Shapes, HardswishTest,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

// PyTorch's hardswish_backward (aten/src/ATen/native/cpu/Activation.cpp and
// cuda/ActivationHardswishKernel.cu):
//   if (self_val <= neg_three) return zero;
//   else if (self_val < three) return grad_val * ((self_val / three) + one_half);
//   else return grad_val;
// so 0 at x = -3, the slope (2x + 3) / 6 strictly between, and dy at x = 3.
TEST(Hardswish, KinksFollowPyTorch) {
  Context ctx;
  const float dy = 2.5f;
  const std::vector<float> xs{-4.0f, -3.0f,       above(-3.0f), -1.5f, 0.0f,
                              1.5f,  below(3.0f), 3.0f,         4.0f,  100.0f};
  const Shape s{static_cast<int64_t>(xs.size())};
  const Tensor x = Tensor::from_vector(s, xs);
  const Tensor dx = test::activation_grad(
      ctx, kHardswish, x, Tensor::from_vector(s, std::vector<float>(xs.size(), dy)));
  const auto g = dx.to_vector();
  const auto middle = [&](float v) { return dy * (v / 3.0f + 0.5f); };
  EXPECT_EQ(g[0], 0.0f);
  EXPECT_EQ(g[1], 0.0f) << "x = -3: the flat piece's slope, as torch";
  EXPECT_EQ(g[2], middle(above(-3.0f)));
  EXPECT_NEAR(g[2], -0.5f * dy, 1e-6f);
  EXPECT_EQ(g[3], 0.0f);
  EXPECT_EQ(g[4], 0.5f * dy);
  EXPECT_EQ(g[5], dy);
  EXPECT_EQ(g[6], middle(below(3.0f)));
  EXPECT_NEAR(g[6], 1.5f * dy, 1e-5f);
  EXPECT_EQ(g[7], dy) << "x = 3: the linear piece's slope, as torch";
  EXPECT_EQ(g[8], dy);
  EXPECT_EQ(g[9], dy);

  Tensor y = Tensor::empty(s);
  ops::hardswish_forward(ctx, x, y);
  const auto v = y.to_vector();
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_EQ(v[1], 0.0f);
  EXPECT_EQ(v[3], -0.375f);  // -1.5 * 1.5 / 6
  EXPECT_EQ(v[4], 0.0f);
  EXPECT_EQ(v[7], 3.0f);
  EXPECT_EQ(v[8], 4.0f);
  const Tensor nan = Tensor::from_vector(Shape{1}, std::vector<float>{std::nanf("")});
  Tensor ny = Tensor::empty(Shape{1});
  ops::hardswish_forward(ctx, nan, ny);
  EXPECT_TRUE(std::isnan(ny.to_vector()[0]));
}

TEST(Hardswish, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const Shape s{4, 6, 41, 39};
  test::expect_same_bits_with_1_and_2_threads(kHardswish, test::random_tensor(s, gen, -5.0f, 5.0f),
                                              test::random_tensor(s, gen));
}

TEST(Hardswish, WrongShapesNameTheOp) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{6}), dx = Tensor::zeros(Shape{2, 3});
  test::expect_error([&] { ops::hardswish_forward(ctx, x, y); },
                     "hardswish: output has shape [6], expected [2, 3]");
  const Tensor dy = Tensor::zeros(Shape{2, 4});
  test::expect_error([&] { ops::hardswish_backward(ctx, x, dy, dx); },
                     "hardswish_backward: grad_output has shape [2, 4], expected [2, 3]");
}

}  // namespace
}  // namespace kestrel
