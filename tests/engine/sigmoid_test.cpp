// sigmoid: forward against a float64 reference (large |x| included: no overflow, no NaN),
// backward (from the output) against central differences, exact values, in place, 1 vs 2
// threads, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/ops/activation.hpp"
#include "tests/engine/activation_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"

namespace kestrel {
namespace {

double sigmoid64(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const test::Activation kSigmoid{ops::sigmoid_forward, ops::sigmoid_backward, true};

class SigmoidTest : public ::testing::TestWithParam<Shape> {};

TEST_P(SigmoidTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::input_with(GetParam(), gen, -12.0f, 12.0f,
                                    {0.0f, -0.0f, 88.0f, -88.0f, 100.0f, -100.0f, 1e30f, -1e30f});
  Tensor y = Tensor::empty(GetParam());
  ops::sigmoid_forward(ctx, x, y);
  // A few ulp relative; exp(-100) is an f32 subnormal, hence the absolute term.
  EXPECT_TRUE(test::all_close(test::map64(test::to_double(x), sigmoid64), y, 1e-6, 1e-30));
}

TEST_P(SigmoidTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor x = test::random_tensor(GetParam(), gen, -10.0f, 10.0f);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  const Tensor dx = test::activation_grad(ctx, kSigmoid, x, dy);
  const auto f = [](const std::vector<double>& v) { return test::map64(v, sigmoid64); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-5, 1e-7));
}

TEST_P(SigmoidTest, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::expect_in_place_same_bits(kSigmoid, test::random_tensor(GetParam(), gen, -8.0f, 8.0f),
                                  test::random_tensor(GetParam(), gen));
}

INSTANTIATE_TEST_SUITE_P(Shapes, SigmoidTest,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

// Large |x|: 0 and 1 without overflow, gradient 0, never NaN; sigmoid(0) = 1/2 and its slope 1/4.
TEST(Sigmoid, ExactAndExtremeValues) {
  Context ctx;
  const std::vector<float> xs{0.0f,
                              -0.0f,
                              100.0f,
                              -200.0f,
                              1e30f,
                              -1e30f,
                              std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity()};
  const Shape s{static_cast<int64_t>(xs.size())};
  const Tensor x = Tensor::from_vector(s, xs);
  Tensor y = Tensor::empty(s);
  ops::sigmoid_forward(ctx, x, y);
  const Tensor dx = test::activation_grad(
      ctx, kSigmoid, x, Tensor::from_vector(s, std::vector<float>(xs.size(), 2.0f)));
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0.5f, 0.5f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f}));
  EXPECT_EQ(dx.to_vector(), (std::vector<float>{0.5f, 0.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}));
  // Just below the f32 underflow of exp: positive, not flushed to 0 by an overflowing exp(-x).
  const Tensor tail = Tensor::from_vector(Shape{1}, std::vector<float>{-95.0f});
  Tensor ty = Tensor::empty(Shape{1});
  ops::sigmoid_forward(ctx, tail, ty);
  EXPECT_NEAR(ty.to_vector()[0], sigmoid64(-95.0), 1e-44);
  EXPECT_GT(ty.to_vector()[0], 0.0f);
  const Tensor nan = Tensor::from_vector(Shape{1}, std::vector<float>{std::nanf("")});
  ops::sigmoid_forward(ctx, nan, ty);
  EXPECT_TRUE(std::isnan(ty.to_vector()[0]));
}

TEST(Sigmoid, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const Shape s{4, 6, 41, 39};
  test::expect_same_bits_with_1_and_2_threads(kSigmoid, test::random_tensor(s, gen, -8.0f, 8.0f),
                                              test::random_tensor(s, gen));
}

TEST(Sigmoid, WrongShapesNameTheOp) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2}), dx = Tensor::zeros(Shape{2, 3});
  test::expect_error([&] { ops::sigmoid_forward(ctx, x, y); },
                     "sigmoid: output has shape [3, 2], expected [2, 3]");
  const Tensor dy = Tensor::zeros(Shape{2, 4});
  test::expect_error([&] { ops::sigmoid_backward(ctx, x, dy, dx); },
                     "sigmoid_backward: grad_output has shape [2, 4], expected [2, 3]");
  const Tensor i32 = Tensor::zeros(Shape{2, 3}, DType::I32);
  test::expect_error([&] { ops::sigmoid_forward(ctx, i32, dx); }, "sigmoid: input must be f32");
}

}  // namespace
}  // namespace kestrel
