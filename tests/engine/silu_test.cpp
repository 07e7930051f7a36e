// silu (x * sigmoid(x)): forward against a float64 reference (large |x| included), backward
// (from the input) against central differences and at extreme inputs, in place, 1 vs 2 threads,
// errors.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops/activation.hpp"
#include "tests/engine/activation_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"

namespace kestrel {
namespace {

double silu64(double x) { return x / (1.0 + std::exp(-x)); }

const test::Activation kSilu{ops::silu_forward, ops::silu_backward, false};

class SiluTest : public ::testing::TestWithParam<Shape> {};

TEST_P(SiluTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::input_with(GetParam(), gen, -12.0f, 12.0f,
                                    {0.0f, -0.0f, 90.0f, -90.0f, 1e30f, -1e30f, -20.0f});
  Tensor y = Tensor::empty(GetParam());
  ops::silu_forward(ctx, x, y);
  EXPECT_TRUE(test::all_close(test::map64(test::to_double(x), silu64), y, 2e-6, 1e-30));
}

TEST_P(SiluTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor x = test::random_tensor(GetParam(), gen, -10.0f, 10.0f);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  const Tensor dx = test::activation_grad(ctx, kSilu, x, dy);
  const auto f = [](const std::vector<double>& v) { return test::map64(v, silu64); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-5, 1e-7));
}

TEST_P(SiluTest, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::expect_in_place_same_bits(kSilu, test::random_tensor(GetParam(), gen, -8.0f, 8.0f),
                                  test::random_tensor(GetParam(), gen));
}

INSTANTIATE_TEST_SUITE_P(Shapes, SiluTest,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

// silu(0) = 0 with slope 1/2; far out the slope is 1 (right) and 0 (left), computed from x
// without NaN (x * (1 - s) is 0 * x, not inf * 0), and the small left-tail slope keeps its
// digits: d/dx x e^x = (1 + x) e^x at x = -30.
TEST(Silu, ExactAndExtremeValues) {
  Context ctx;
  const std::vector<float> xs{0.0f, 1e30f, -1e30f, 200.0f, -200.0f, -30.0f};
  const Shape s{static_cast<int64_t>(xs.size())};
  const Tensor x = Tensor::from_vector(s, xs);
  Tensor y = Tensor::empty(s);
  ops::silu_forward(ctx, x, y);
  const Tensor dx =
      test::activation_grad(ctx, kSilu, x, Tensor::from_vector(s, std::vector<float>(6, 1.0f)));
  const auto v = y.to_vector(), g = dx.to_vector();
  EXPECT_EQ(v[0], 0.0f);
  EXPECT_EQ(v[1], 1e30f);
  EXPECT_EQ(v[2], 0.0f);
  EXPECT_EQ(v[3], 200.0f);
  EXPECT_EQ(v[4], 0.0f);
  EXPECT_NEAR(v[5], -30.0 * std::exp(-30.0), 1e-6 * 30.0 * std::exp(-30.0));
  EXPECT_EQ(g[0], 0.5f);
  EXPECT_EQ(g[1], 1.0f);
  EXPECT_EQ(g[2], 0.0f);
  EXPECT_EQ(g[3], 1.0f);
  EXPECT_EQ(g[4], 0.0f);
  const double slope = -29.0 * std::exp(-30.0) / (1.0 + std::exp(-30.0));
  EXPECT_NEAR(g[5], slope, 1e-5 * std::fabs(slope));
}

TEST(Silu, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const Shape s{4, 6, 41, 39};
  test::expect_same_bits_with_1_and_2_threads(kSilu, test::random_tensor(s, gen, -8.0f, 8.0f),
                                              test::random_tensor(s, gen));
}

TEST(Silu, WrongShapesNameTheOp) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2}), dx = Tensor::zeros(Shape{2, 2});
  test::expect_error([&] { ops::silu_forward(ctx, x, y); },
                     "silu: output has shape [3, 2], expected [2, 3]");
  const Tensor dy = Tensor::zeros(Shape{2, 3});
  test::expect_error([&] { ops::silu_backward(ctx, x, dy, dx); },
                     "silu_backward: grad_input has shape [2, 2], expected [2, 3]");
}

}  // namespace
}  // namespace kestrel
