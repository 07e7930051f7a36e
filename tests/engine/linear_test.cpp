// linear forward against a float64 reference, backward against central differences (small
// shapes) and float64 closed forms (large ones), thread-count independence and argument errors.
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>

#include "engine/ops/linear.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct LinearShape {
  int64_t n, in, out;
};
void PrintTo(const LinearShape& s, std::ostream* os) {
  *os << "N" << s.n << "_in" << s.in << "_out" << s.out;
}

// y[r, o] = sum_i x[r, i] w[o, i] + b[o]; b empty means no bias.
std::vector<double> linear_reference(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& b, const LinearShape& s) {
  std::vector<double> y(static_cast<size_t>(s.n * s.out));
  for (int64_t r = 0; r < s.n; ++r)
    for (int64_t o = 0; o < s.out; ++o) {
      double acc = b.empty() ? 0.0 : b[static_cast<size_t>(o)];
      for (int64_t i = 0; i < s.in; ++i)
        acc += x[static_cast<size_t>(r * s.in + i)] * w[static_cast<size_t>(o * s.in + i)];
      y[static_cast<size_t>(r * s.out + o)] = acc;
    }
  return y;
}

// The float64 inputs and f32 tensors of one random problem.
struct LinearProblem {
  LinearShape s;
  Tensor x, w, b, dy;
  LinearProblem(const LinearShape& shape, std::mt19937_64& gen)
      : s(shape),
        x(test::random_tensor(Shape{s.n, s.in}, gen)),
        w(test::random_tensor(Shape{s.out, s.in}, gen)),
        b(test::random_tensor(Shape{s.out}, gen)),
        dy(test::random_tensor(Shape{s.n, s.out}, gen)) {}
};

// f32 GEMM against float64 over a reduction of `k` terms in [-1, 1].
double gemm_atol(int64_t k) { return 2e-7 * static_cast<double>(k) + 1e-6; }

class LinearTest : public ::testing::TestWithParam<LinearShape> {};

TEST_P(LinearTest, ForwardWithBiasMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor y = Tensor::empty(Shape{p.s.n, p.s.out});
  ops::linear_forward(ctx, p.x, p.w, &p.b, y);
  const auto expected =
      linear_reference(test::to_double(p.x), test::to_double(p.w), test::to_double(p.b), p.s);
  EXPECT_TRUE(test::all_close(expected, y, 1e-5, gemm_atol(p.s.in)));
}

TEST_P(LinearTest, ForwardWithoutBiasMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor y = test::random_tensor(Shape{p.s.n, p.s.out}, gen);  // stale values must not leak in
  ops::linear_forward(ctx, p.x, p.w, nullptr, y);
  const auto expected = linear_reference(test::to_double(p.x), test::to_double(p.w), {}, p.s);
  EXPECT_TRUE(test::all_close(expected, y, 1e-5, gemm_atol(p.s.in)));
}

// dx = dy w, dw = dy^T x, db = column sums of dy, written out in float64.
TEST_P(LinearTest, FusedReluForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor y = Tensor::empty(Shape{p.s.n, p.s.out});
  ops::linear_forward(ctx, p.x, p.w, &p.b, y, /*relu=*/true);
  auto expected =
      linear_reference(test::to_double(p.x), test::to_double(p.w), test::to_double(p.b), p.s);
  size_t clipped = 0;
  for (double& v : expected)
    if (v < 0.0) v = 0.0, ++clipped;
  if (expected.size() >= 64) {  // with many outputs, some are negative and must be clipped
    EXPECT_GT(clipped, 0u) << "random inputs should make some outputs negative";
  }
  EXPECT_TRUE(test::all_close(expected, y, 1e-5, gemm_atol(p.s.in)));
}

TEST_P(LinearTest, BackwardMatchesFloat64ClosedForm) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  const LinearShape& s = p.s;
  Tensor dx = test::random_tensor(Shape{s.n, s.in}, gen);
  Tensor dw = test::random_tensor(Shape{s.out, s.in}, gen);
  Tensor db = test::random_tensor(Shape{s.out}, gen);
  ops::linear_backward_data(ctx, p.dy, p.w, dx);
  ops::linear_backward_weight(ctx, p.x, p.dy, dw);
  ops::linear_backward_bias(ctx, p.dy, db);

  const auto x = test::to_double(p.x), w = test::to_double(p.w), dy = test::to_double(p.dy);
  std::vector<double> ex(x.size(), 0.0), ew(w.size(), 0.0), eb(static_cast<size_t>(s.out), 0.0);
  for (int64_t r = 0; r < s.n; ++r)
    for (int64_t o = 0; o < s.out; ++o) {
      const double g = dy[static_cast<size_t>(r * s.out + o)];
      eb[static_cast<size_t>(o)] += g;
      for (int64_t i = 0; i < s.in; ++i) {
        ex[static_cast<size_t>(r * s.in + i)] += g * w[static_cast<size_t>(o * s.in + i)];
        ew[static_cast<size_t>(o * s.in + i)] += g * x[static_cast<size_t>(r * s.in + i)];
      }
    }
  EXPECT_TRUE(test::all_close(ex, dx, 1e-5, gemm_atol(s.out)));
  EXPECT_TRUE(test::all_close(ew, dw, 1e-5, gemm_atol(s.n)));
  EXPECT_TRUE(test::all_close(eb, db, 1e-5, gemm_atol(s.n)));
}

// Odd sizes, batch 1, LeNet's fc1 (256 -> 120), and sizes that cross the GEMM's 64 x 256 tiles.
INSTANTIATE_TEST_SUITE_P(Shapes, LinearTest,
                         ::testing::Values(LinearShape{1, 1, 1}, LinearShape{1, 7, 5},
                                           LinearShape{3, 7, 5}, LinearShape{5, 16, 9},
                                           LinearShape{4, 256, 120}, LinearShape{70, 33, 300},
                                           LinearShape{129, 84, 10}));

// Central differences of the float64 reference, contracted with the random grad_output.
class LinearGradTest : public ::testing::TestWithParam<LinearShape> {};

TEST_P(LinearGradTest, BackwardDataMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor dx = Tensor::empty(Shape{p.s.n, p.s.in});
  ops::linear_backward_data(ctx, p.dy, p.w, dx);
  const auto w = test::to_double(p.w), b = test::to_double(p.b);
  const auto f = [&](const std::vector<double>& x) { return linear_reference(x, w, b, p.s); };
  const auto expected = test::numeric_gradient(f, test::to_double(p.x), test::to_double(p.dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-5, 1e-6));
}

TEST_P(LinearGradTest, BackwardWeightMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor dw = Tensor::empty(Shape{p.s.out, p.s.in});
  ops::linear_backward_weight(ctx, p.x, p.dy, dw);
  const auto x = test::to_double(p.x), b = test::to_double(p.b);
  const auto f = [&](const std::vector<double>& w) { return linear_reference(x, w, b, p.s); };
  const auto expected = test::numeric_gradient(f, test::to_double(p.w), test::to_double(p.dy));
  EXPECT_TRUE(test::all_close(expected, dw, 1e-5, 1e-6));
}

TEST_P(LinearGradTest, BackwardBiasMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  const LinearProblem p(GetParam(), gen);
  Tensor db = Tensor::empty(Shape{p.s.out});
  ops::linear_backward_bias(ctx, p.dy, db);
  const auto x = test::to_double(p.x), w = test::to_double(p.w);
  const auto f = [&](const std::vector<double>& b) { return linear_reference(x, w, b, p.s); };
  const auto expected = test::numeric_gradient(f, test::to_double(p.b), test::to_double(p.dy));
  EXPECT_TRUE(test::all_close(expected, db, 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearGradTest,
                         ::testing::Values(LinearShape{1, 1, 1}, LinearShape{1, 7, 5},
                                           LinearShape{3, 7, 5}, LinearShape{6, 16, 9}));

// AlexNet-sized layer (64 x 9216 -> 4096): the full float64 reference is too slow, so a random
// sample of outputs is checked, spread over the GEMM's tiles.
TEST(Linear, LargeForwardMatchesSampledReference) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Context ctx;
  const LinearShape s{64, 9216, 4096};
  const LinearProblem p(s, gen);
  Tensor y = Tensor::empty(Shape{s.n, s.out});
  ops::linear_forward(ctx, p.x, p.w, &p.b, y);

  const float* x = p.x.data<float>();
  const float* w = p.w.data<float>();
  const float* b = p.b.data<float>();
  std::uniform_int_distribution<int64_t> row(0, s.n - 1), col(0, s.out - 1);
  std::vector<double> expected;
  std::vector<float> actual;
  for (int sample = 0; sample < 512; ++sample) {
    const int64_t r = row(gen), o = col(gen);
    double acc = b[o];
    for (int64_t i = 0; i < s.in; ++i)
      acc += static_cast<double>(x[r * s.in + i]) * static_cast<double>(w[o * s.in + i]);
    expected.push_back(acc);
    actual.push_back(y.data<float>()[r * s.out + o]);
  }
  // Observed worst errors are about 4e-5 on outputs of magnitude ~60 (9216-term sums).
  EXPECT_TRUE(test::all_close(expected, actual, 0.0, 2e-4));
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST(Linear, ForwardAndBackwardBitwiseEqualAcrossThreadCounts) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Context ctx;
  const LinearShape s{130, 50, 300};  // several tiles in every product
  const LinearProblem p(s, gen);
  Tensor y[2], dx[2], dw[2], db[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    y[t] = Tensor::empty(Shape{s.n, s.out});
    dx[t] = Tensor::empty(Shape{s.n, s.in});
    dw[t] = Tensor::empty(Shape{s.out, s.in});
    db[t] = Tensor::empty(Shape{s.out});
    ops::linear_forward(ctx, p.x, p.w, &p.b, y[t]);
    ops::linear_backward_data(ctx, p.dy, p.w, dx[t]);
    ops::linear_backward_weight(ctx, p.x, p.dy, dw[t]);
    ops::linear_backward_bias(ctx, p.dy, db[t]);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(bitwise_equal(y[0], y[1]));
  EXPECT_TRUE(bitwise_equal(dx[0], dx[1]));
  EXPECT_TRUE(bitwise_equal(dw[0], dw[1]));
  EXPECT_TRUE(bitwise_equal(db[0], db[1]));
}

TEST(Linear, OutputShapeHelper) {
  EXPECT_EQ(ops::linear_output_shape(Shape{3, 7}, Shape{5, 7}), (Shape{3, 5}));
  EXPECT_THROW(ops::linear_output_shape(Shape{3, 7}, Shape{5, 8}), Error);
}

using test::expect_error;

TEST(Linear, InFeatureMismatchNamesBothShapes) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{3, 7}), w = Tensor::zeros(Shape{5, 8});
  Tensor y = Tensor::zeros(Shape{3, 5});
  expect_error([&] { ops::linear_forward(ctx, x, w, nullptr, y); },
               "linear: input has 7 features but weight expects 8 (input f32[3, 7], weight "
               "f32[5, 8])");
}

TEST(Linear, WrongBiasOutputAndRankAreErrors) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{3, 7}), w = Tensor::zeros(Shape{5, 7});
  const Tensor bad_bias = Tensor::zeros(Shape{4});
  Tensor y = Tensor::zeros(Shape{3, 5}), bad_y = Tensor::zeros(Shape{5, 3});
  expect_error([&] { ops::linear_forward(ctx, x, w, &bad_bias, y); },
               "linear: bias has shape [4], expected [5]");
  expect_error([&] { ops::linear_forward(ctx, x, w, nullptr, bad_y); },
               "linear: output has shape [5, 3], expected [3, 5]");
  const Tensor x1 = Tensor::zeros(Shape{7});
  expect_error([&] { ops::linear_forward(ctx, x1, w, nullptr, y); },
               "linear: input must have at least 2 dimensions (N, ..., features), got [7]");
}

TEST(Linear, BackwardShapeMismatchesAreErrors) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{3, 7}), w = Tensor::zeros(Shape{5, 7});
  const Tensor dy_bad_features = Tensor::zeros(Shape{3, 6});
  const Tensor dy_bad_rows = Tensor::zeros(Shape{4, 5});
  Tensor dx = Tensor::zeros(Shape{3, 7}), dw = Tensor::zeros(Shape{5, 7});
  Tensor db = Tensor::zeros(Shape{6});
  expect_error([&] { ops::linear_backward_data(ctx, dy_bad_features, w, dx); },
               "linear_backward_data: grad_output has 6 features but weight has 5 outputs "
               "(grad_output f32[3, 6], weight f32[5, 7])");
  expect_error([&] { ops::linear_backward_weight(ctx, x, dy_bad_rows, dw); },
               "linear_backward_weight: input has 3 rows but grad_output has 4 (input f32[3, 7], "
               "grad_output f32[4, 5])");
  const Tensor dy = Tensor::zeros(Shape{3, 5});
  expect_error([&] { ops::linear_backward_bias(ctx, dy, db); },
               "linear_backward_bias: grad_bias has shape [6], expected [5]");
  Tensor dx_bad = Tensor::zeros(Shape{3, 5});
  expect_error([&] { ops::linear_backward_data(ctx, dy, w, dx_bad); },
               "linear_backward_data: grad_input has shape [3, 5], expected [3, 7]");
  Tensor dw_bad = Tensor::zeros(Shape{7, 5});
  expect_error([&] { ops::linear_backward_weight(ctx, x, dy, dw_bad); },
               "linear_backward_weight: grad_weight has shape [7, 5], expected [5, 7]");
}

}  // namespace
}  // namespace kestrel
