// softmax over the last dimension and its backward against a float64 reference written here
// (exp(x_j) / sum_k exp(x_k), computed with the row's max subtracted): rows of 1, odd and long
// lengths, large logits that would overflow exp unshifted, in place, the backward against
// central differences, 1 vs 2 threads, errors.
#include "engine/ops/softmax.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

std::vector<double> softmax_ref(const std::vector<double>& x, int64_t cols) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / static_cast<size_t>(cols); ++r) {
    const size_t base = r * static_cast<size_t>(cols);
    double max = x[base];
    for (int64_t j = 1; j < cols; ++j) max = std::max(max, x[base + static_cast<size_t>(j)]);
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += std::exp(x[base + static_cast<size_t>(j)] - max);
    for (int64_t j = 0; j < cols; ++j)
      y[base + static_cast<size_t>(j)] = std::exp(x[base + static_cast<size_t>(j)] - max) / sum;
  }
  return y;
}

class Softmax : public ::testing::TestWithParam<Shape> {};

TEST_P(Softmax, ForwardAndBackwardMatchTheReference) {
  const Shape shape = GetParam();
  const int64_t cols = shape[shape.ndim() - 1];
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x = test::random_tensor(shape, gen, -4.0f, 4.0f);
  Tensor y = test::poisoned(shape);
  ops::softmax_forward(ctx, x, y);
  const std::vector<double> xd = test::to_double(x);
  EXPECT_TRUE(test::all_close(softmax_ref(xd, cols), y, 1e-6, 1e-7));

  const Tensor dy = test::random_tensor(shape, gen);
  Tensor dx = test::poisoned(shape);
  ops::softmax_backward(ctx, y, dy, dx);
  const auto f = [&](const std::vector<double>& v) { return softmax_ref(v, cols); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, xd, test::to_double(dy)), dx, 1e-5,
                              1e-6));

  // In place both ways gives the same bits.
  Tensor inplace = Tensor::empty(shape);
  inplace.copy_from(x);
  ops::softmax_forward(ctx, inplace, inplace);
  EXPECT_TRUE(test::same_bits(y, inplace));
  Tensor grad = Tensor::empty(shape);
  grad.copy_from(dy);
  ops::softmax_backward(ctx, y, grad, grad);
  EXPECT_TRUE(test::same_bits(dx, grad));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Softmax,
                         ::testing::Values(Shape{3, 1}, Shape{1, 7}, Shape{2, 3, 5},
                                           Shape{4, 33}, Shape{2, 2, 2, 64}));

TEST(SoftmaxLarge, LogitsThatOverflowExpStayFinite) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 1);
  Tensor x = test::random_tensor(Shape{3, 9}, gen, 200.0f, 400.0f);
  Tensor y = test::poisoned(x.shape());
  ops::softmax_forward(ctx, x, y);
  EXPECT_TRUE(test::all_close(softmax_ref(test::to_double(x), 9), y, 1e-5, 1e-7));
}

TEST(SoftmaxLarge, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 2);
  const Shape shape{300, 129};  // well past the parallel threshold
  const Tensor x = test::random_tensor(shape, gen, -3.0f, 3.0f);
  const Tensor dy = test::random_tensor(shape, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
    ops::softmax_forward(ctx, x, y);
    ops::softmax_backward(ctx, y, dy, dx);
    cpu::set_num_threads(0);
    std::vector<float> all = y.to_vector();
    const auto d = dx.to_vector();
    all.insert(all.end(), d.begin(), d.end());
    return all;
  };
  EXPECT_TRUE(test::same_bits(run(1), run(2)));
}

TEST(SoftmaxErrors, ShapesAndEmptyRows) {
  Context ctx;
  Tensor x = Tensor::empty(Shape{2, 3}), y = Tensor::empty(Shape{3, 2});
  test::expect_error([&] { ops::softmax_forward(ctx, x, y); }, "softmax");
  Tensor empty_rows = Tensor::empty(Shape{2, 0});
  test::expect_error([&] { ops::softmax_forward(ctx, empty_rows, empty_rows); },
                     "softmax: the last dimension must be at least 1, got [2, 0]");
  Tensor dx = Tensor::empty(Shape{2, 4});
  test::expect_error([&] { ops::softmax_backward(ctx, x, x, dx); }, "softmax_backward");
}

}  // namespace
}  // namespace kestrel
