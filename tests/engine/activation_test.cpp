// relu forward against a float64 reference, backward against central differences.
#include <gtest/gtest.h>

#include "engine/ops/activation.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

std::vector<double> relu_reference(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0.0 ? x[i] : 0.0;
  return y;
}

class ReluTest : public ::testing::TestWithParam<Shape> {};

TEST_P(ReluTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::random_tensor(GetParam(), gen);
  Tensor y = Tensor::empty(GetParam());
  ops::relu_forward(ctx, x, y);
  EXPECT_TRUE(test::all_close(relu_reference(test::to_double(x)), y, 0.0, 0.0));
}

TEST_P(ReluTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor x = test::random_tensor(GetParam(), gen);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  Tensor y = Tensor::empty(GetParam()), dx = Tensor::empty(GetParam());
  ops::relu_forward(ctx, x, y);
  ops::relu_backward(ctx, y, dy, dx);
  const auto expected = test::numeric_gradient(relu_reference, test::to_double(x), test::to_double(dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-6, 1e-6));
}

TEST_P(ReluTest, InPlaceForward) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  Tensor x = test::random_tensor(GetParam(), gen);
  const auto expected = relu_reference(test::to_double(x));
  ops::relu_forward(ctx, x, x);
  EXPECT_TRUE(test::all_close(expected, x, 0.0, 0.0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReluTest,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

TEST(Relu, WrongShapeNamesTheOp) {
  Context ctx;
  Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2});
  try {
    ops::relu_forward(ctx, x, y);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("relu: output has shape [3, 2], expected [2, 3]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kestrel
