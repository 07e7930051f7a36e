// relu6 (min(max(x, 0), 6), torch's Hardtanh(0, 6)): forward against a float64 reference with
// the edges 0 and 6 planted among the inputs, backward (from the output) against central
// differences away from the edges and exactly at them (0 at and beyond both, as torch's
// hardtanh_backward), in place, 1 vs 2 threads, errors.
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

double relu6_64(double x) { return std::min(std::max(x, 0.0), 6.0); }

const test::Activation kRelu6{ops::relu6_forward, ops::relu6_backward, true};

float below(float v) { return std::nextafter(v, -std::numeric_limits<float>::infinity()); }
float above(float v) { return std::nextafter(v, std::numeric_limits<float>::infinity()); }

class Relu6Test : public ::testing::TestWithParam<Shape> {};

TEST_P(Relu6Test, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x =
      test::input_with(GetParam(), gen, -3.0f, 9.0f,
                       {0.0f, 6.0f, -3.0f, 3.0f, below(6.0f), above(6.0f), above(0.0f)});
  Tensor y = Tensor::empty(GetParam());
  ops::relu6_forward(ctx, x, y);
  EXPECT_TRUE(test::all_close(test::map64(test::to_double(x), relu6_64), y, 0.0, 0.0));
}

TEST_P(Relu6Test, BackwardAwayFromTheEdgesMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  Tensor x = test::random_tensor(GetParam(), gen, -3.0f, 9.0f);
  test::keep_away_from(x, {0.0f, 6.0f}, 1e-3f);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  const Tensor dx = test::activation_grad(ctx, kRelu6, x, dy);
  const auto f = [](const std::vector<double>& v) { return test::map64(v, relu6_64); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-6, 1e-8));
}

TEST_P(Relu6Test, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::expect_in_place_same_bits(kRelu6, test::random_tensor(GetParam(), gen, -3.0f, 9.0f),
                                  test::random_tensor(GetParam(), gen));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Relu6Test,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

// torch's hardtanh_backward: `(self_val <= min_val || self_val >= max_val) ? 0 : grad_val`, so
// the gradient is 0 at x = 0 and at x = 6 and dy strictly between.
TEST(Relu6, EdgesFollowPyTorch) {
  Context ctx;
  const float dy = -1.75f;
  const std::vector<float> xs{-1.0f,       -0.0f, 0.0f, above(0.0f), 3.0f,
                              below(6.0f), 6.0f,  7.0f, 1e30f};
  const Shape s{static_cast<int64_t>(xs.size())};
  const Tensor x = Tensor::from_vector(s, xs);
  Tensor y = Tensor::empty(s);
  ops::relu6_forward(ctx, x, y);
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0.0f, 0.0f, 0.0f, above(0.0f), 3.0f, below(6.0f),
                                               6.0f, 6.0f, 6.0f}));
  const Tensor dx = test::activation_grad(
      ctx, kRelu6, x, Tensor::from_vector(s, std::vector<float>(xs.size(), dy)));
  EXPECT_EQ(dx.to_vector(), (std::vector<float>{0.0f, 0.0f, 0.0f, dy, dy, dy, 0.0f, 0.0f, 0.0f}));
  // A NaN stays NaN forward and passes the gradient, as hardtanh's.
  const Tensor nan = Tensor::from_vector(Shape{1}, std::vector<float>{std::nanf("")});
  Tensor ny = Tensor::empty(Shape{1});
  ops::relu6_forward(ctx, nan, ny);
  EXPECT_TRUE(std::isnan(ny.to_vector()[0]));
  const Tensor ndx = test::activation_grad(ctx, kRelu6, nan,
                                           Tensor::from_vector(Shape{1}, std::vector<float>{dy}));
  EXPECT_EQ(ndx.to_vector()[0], dy);
}

TEST(Relu6, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const Shape s{4, 6, 41, 39};
  test::expect_same_bits_with_1_and_2_threads(kRelu6, test::random_tensor(s, gen, -3.0f, 9.0f),
                                              test::random_tensor(s, gen));
}

TEST(Relu6, WrongShapesNameTheOp) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2}), dx = Tensor::zeros(Shape{2, 3});
  test::expect_error([&] { ops::relu6_forward(ctx, x, y); },
                     "relu6: output has shape [3, 2], expected [2, 3]");
  const Tensor dy = Tensor::zeros(Shape{2, 4});
  test::expect_error([&] { ops::relu6_backward(ctx, x, dy, dx); },
                     "relu6_backward: grad_output has shape [2, 4], expected [2, 3]");
}

}  // namespace
}  // namespace kestrel
