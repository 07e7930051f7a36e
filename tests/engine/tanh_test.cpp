// tanh forward against a float64 reference, backward against central differences, in place
// and 1 vs 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "engine/ops/activation.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

std::vector<double> tanh_reference(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = std::tanh(x[i]);
  return y;
}

// Inputs over [-3, 3]: the linear middle and the saturating tails.
Tensor tanh_input(const Shape& shape, std::mt19937_64& gen) {
  return test::random_tensor(shape, gen, -3.0f, 3.0f);
}

class TanhTest : public ::testing::TestWithParam<Shape> {};

TEST_P(TanhTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = tanh_input(GetParam(), gen);
  Tensor y = Tensor::empty(GetParam());
  ops::tanh_forward(ctx, x, y);
  // tanhf is within 2 ulp of the exact value.
  EXPECT_TRUE(test::all_close(tanh_reference(test::to_double(x)), y, 3e-7, 1e-8));
}

TEST_P(TanhTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor x = tanh_input(GetParam(), gen);
  const Tensor dy = test::random_tensor(GetParam(), gen);
  Tensor y = Tensor::empty(GetParam()), dx = Tensor::empty(GetParam());
  ops::tanh_forward(ctx, x, y);
  ops::tanh_backward(ctx, y, dy, dx);
  const auto expected =
      test::numeric_gradient(tanh_reference, test::to_double(x), test::to_double(dy));
  // 1 - y^2 from an f32 y: an absolute error of about 2 |y| ulp(y) near saturation.
  EXPECT_TRUE(test::all_close(expected, dx, 1e-5, 5e-7));
}

TEST_P(TanhTest, InPlaceForwardAndBackward) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  Tensor x = tanh_input(GetParam(), gen);
  Tensor dy = test::random_tensor(GetParam(), gen);
  Tensor y = Tensor::empty(GetParam()), dx = Tensor::empty(GetParam());
  ops::tanh_forward(ctx, x, y);
  ops::tanh_backward(ctx, y, dy, dx);
  ops::tanh_forward(ctx, x, x);
  ops::tanh_backward(ctx, x, dy, dy);
  EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), y.nbytes()), 0);
  EXPECT_EQ(std::memcmp(dy.raw_data(), dx.raw_data(), dx.nbytes()), 0);
}

INSTANTIATE_TEST_SUITE_P(Shapes, TanhTest,
                         ::testing::Values(Shape{1}, Shape{7, 3}, Shape{2, 3, 5, 5},
                                           Shape{1, 1, 1, 33}));

TEST(Tanh, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const Shape s{4, 6, 41, 39};  // above kMinParallelWork: the launch runs on both threads
  const Tensor x = tanh_input(s, gen), dy = test::random_tensor(s, gen);
  Tensor y1 = Tensor::empty(s), dx1 = Tensor::empty(s), y2 = Tensor::empty(s),
         dx2 = Tensor::empty(s);
  cpu::set_num_threads(1);
  ops::tanh_forward(ctx, x, y1);
  ops::tanh_backward(ctx, y1, dy, dx1);
  cpu::set_num_threads(2);
  ops::tanh_forward(ctx, x, y2);
  ops::tanh_backward(ctx, y2, dy, dx2);
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(y1.raw_data(), y2.raw_data(), y1.nbytes()), 0);
  EXPECT_EQ(std::memcmp(dx1.raw_data(), dx2.raw_data(), dx1.nbytes()), 0);
}

TEST(Tanh, WrongShapesNameTheOp) {
  Context ctx;
  Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2});
  try {
    ops::tanh_forward(ctx, x, y);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tanh: output has shape [3, 2], expected [2, 3]"),
              std::string::npos)
        << e.what();
  }
  Tensor dy = Tensor::zeros(Shape{2, 4});
  try {
    ops::tanh_backward(ctx, x, dy, x);
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("tanh_backward: grad_output has shape [2, 4], expected [2, 3]"),
        std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kestrel
