// layer_norm and nn::LayerNorm against a float64 reference written here from
// torch.nn.functional.layer_norm over the last dimension (biased variance per row): forward
// (output, saved mean and 1 / sqrt(var + eps)), backward (x, weight, bias) against central
// differences of the reference, shapes of rank 2 to 4 with odd sizes, D = 1, a large mean,
// 1 vs 2 threads bit for bit, the errors; the layer's parameters, saved rows and a smaller
// batch. The layer inside a graph is checked by vit_tokens_graph_test.cpp.
#include "engine/nn/layer_norm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/ops/layer_norm.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::to_double;

// ---- the float64 reference ----

struct RowStats {
  std::vector<double> mean, rstd;
};

RowStats row_stats_ref(const std::vector<double>& x, int64_t d, double eps) {
  const size_t rows = x.size() / static_cast<size_t>(d);
  RowStats s{std::vector<double>(rows), std::vector<double>(rows)};
  for (size_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int64_t j = 0; j < d; ++j) sum += x[r * static_cast<size_t>(d) + static_cast<size_t>(j)];
    const double mean = sum / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double dev = x[r * static_cast<size_t>(d) + static_cast<size_t>(j)] - mean;
      sq += dev * dev;
    }
    s.mean[r] = mean;
    s.rstd[r] = 1.0 / std::sqrt(sq / static_cast<double>(d) + eps);
  }
  return s;
}

std::vector<double> layer_norm_ref(const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>& b, double eps) {
  const int64_t d = static_cast<int64_t>(w.size());
  const RowStats s = row_stats_ref(x, d, eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t r = i / static_cast<size_t>(d), c = i % static_cast<size_t>(d);
    y[i] = (x[i] - s.mean[r]) * s.rstd[r] * w[c] + b[c];
  }
  return y;
}

// ---- the op ----

struct LnSetup {
  Shape shape, stats;
  int64_t d;
  Tensor x, weight, bias, dy, y, mean, rstd;
  LnSetup(const Shape& s, std::mt19937_64& gen, float lo = -2.0f, float hi = 3.0f)
      : shape(s), stats(ops::layer_norm_stats_shape(s)), d(s.dim(-1)) {
    x = test::random_tensor(s, gen, lo, hi);
    weight = test::random_tensor(Shape{d}, gen, 0.5f, 1.5f);
    bias = test::random_tensor(Shape{d}, gen);
    dy = test::random_tensor(s, gen);
    y = Tensor::empty(s);
    mean = Tensor::empty(stats);
    rstd = Tensor::empty(stats);
    y.fill(NAN);
    mean.fill(NAN);
    rstd.fill(NAN);
  }
  void forward(const Context& ctx, double eps) {
    ops::layer_norm_forward(ctx, x, weight, bias, y, mean, rstd, eps);
  }
};

struct LnCase {
  std::string name;
  Shape input;
  double eps;
};

void PrintTo(const LnCase& c, std::ostream* os) { *os << c.name << " " << c.input.str(); }

class LayerNormOpTest : public ::testing::TestWithParam<LnCase> {
 protected:
  Context ctx;
};

TEST_P(LayerNormOpTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 201);
  const LnCase& c = GetParam();
  LnSetup s(c.input, gen);
  s.forward(ctx, c.eps);
  const std::vector<double> x = to_double(s.x);
  EXPECT_TRUE(test::all_close(layer_norm_ref(x, to_double(s.weight), to_double(s.bias), c.eps), s.y,
                              1e-5, 1e-5));
  const RowStats ref = row_stats_ref(x, s.d, c.eps);
  EXPECT_TRUE(test::all_close(ref.mean, s.mean, 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(ref.rstd, s.rstd, 1e-6, 0.0));
}

TEST_P(LayerNormOpTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 202);
  const LnCase& c = GetParam();
  LnSetup s(c.input, gen);
  s.forward(ctx, c.eps);
  Tensor dx = test::random_tensor(s.shape, gen);  // must be overwritten
  Tensor dweight = Tensor::empty(Shape{s.d}), dbias = Tensor::empty(Shape{s.d});
  dweight.fill(NAN);
  dbias.fill(NAN);
  ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, s.mean, s.rstd, &dx, &dweight, &dbias);
  const std::vector<double> x = to_double(s.x), w = to_double(s.weight), b = to_double(s.bias),
                            r = to_double(s.dy);
  const auto of_x = [&](const std::vector<double>& v) { return layer_norm_ref(v, w, b, c.eps); };
  const auto of_w = [&](const std::vector<double>& v) { return layer_norm_ref(x, v, b, c.eps); };
  const auto of_b = [&](const std::vector<double>& v) { return layer_norm_ref(x, w, v, c.eps); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, x, r), dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_w, w, r), dweight, 1e-5, 1e-5))
      << "dweight";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_b, b, r), dbias, 1e-5, 1e-5)) << "dbias";

  // Each output alone gives the same bits as all three together.
  Tensor dx_alone = Tensor::empty(s.shape), dw_alone = Tensor::empty(Shape{s.d});
  ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, s.mean, s.rstd, &dx_alone, nullptr, nullptr);
  ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, s.mean, s.rstd, nullptr, &dw_alone, nullptr);
  EXPECT_TRUE(test::same_bits(dx, dx_alone));
  EXPECT_TRUE(test::same_bits(dweight, dw_alone));
}

INSTANTIATE_TEST_SUITE_P(Cases, LayerNormOpTest,
                         ::testing::Values(LnCase{"tokens", Shape{3, 5, 8}, 1e-5},
                                           LnCase{"vit_eps", Shape{2, 4, 12}, 1e-6},
                                           LnCase{"batch1", Shape{1, 3, 7}, 1e-5},
                                           LnCase{"two_dims", Shape{5, 9}, 1e-5},
                                           LnCase{"four_dims", Shape{2, 3, 2, 6}, 1e-5},
                                           LnCase{"one_feature", Shape{3, 4, 1}, 1e-5},
                                           LnCase{"long_rows", Shape{2, 2, 67}, 0.1}),
                         [](const ::testing::TestParamInfo<LnCase>& param) {
                           return param.param.name;
                         });

TEST(LayerNorm, LargeMeanKeepsTheVarianceAccurate) {
  // Values near 1000 with a spread of 1: the mean first, then the deviations, in double.
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 203);
  LnSetup s(Shape{4, 6, 96}, gen, 999.0f, 1001.0f);
  s.forward(ctx, 1e-5);
  const std::vector<double> x = to_double(s.x);
  const RowStats ref = row_stats_ref(x, s.d, 1e-5);
  EXPECT_TRUE(test::all_close(ref.mean, s.mean, 1e-7, 0.0));
  EXPECT_TRUE(test::all_close(ref.rstd, s.rstd, 1e-6, 0.0));
  EXPECT_TRUE(test::all_close(layer_norm_ref(x, to_double(s.weight), to_double(s.bias), 1e-5), s.y,
                              1e-4, 1e-4));
}

TEST(LayerNorm, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 204);
  const Shape shape{8, 33, 96};  // 3 * 25,344 row operations: spread over threads
  LnSetup s(shape, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(shape), mean = Tensor::empty(s.stats), rstd = Tensor::empty(s.stats);
    ops::layer_norm_forward(ctx, s.x, s.weight, s.bias, y, mean, rstd, 1e-5);
    Tensor dx = Tensor::empty(shape), dw = Tensor::empty(Shape{96}), db = Tensor::empty(Shape{96});
    ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, mean, rstd, &dx, &dw, &db);
    cpu::set_num_threads(0);
    std::vector<float> all;
    for (const Tensor& t : {y, mean, rstd, dx, dw, db}) {
      const auto v = t.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  const auto one = run(1), two = run(2);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

TEST(LayerNormErrors, Op) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 205);
  LnSetup s(Shape{2, 3, 4}, gen);
  using test::expect_error;
  expect_error([&] { s.forward(ctx, -1.0); },
               "layer_norm: eps must be finite and not negative, got -1");
  expect_error(
      [&] {
        const Tensor w5 = test::random_tensor(Shape{5}, gen);
        ops::layer_norm_forward(ctx, s.x, w5, s.bias, s.y, s.mean, s.rstd, 1e-5);
      },
      "layer_norm: weight has shape [5], expected [4]");
  expect_error(
      [&] {
        const Tensor flat = test::random_tensor(Shape{4}, gen);
        Tensor out = Tensor::empty(Shape{4});
        ops::layer_norm_forward(ctx, flat, s.weight, s.bias, out, s.mean, s.rstd, 1e-5);
      },
      "layer_norm: input must have at least 2 dimensions (N, ..., D) and D >= 1, got [4]");
  expect_error(
      [&] {
        Tensor same = s.x;
        ops::layer_norm_forward(ctx, s.x, s.weight, s.bias, same, s.mean, s.rstd, 1e-5);
      },
      "layer_norm: output overlaps the input");
  expect_error(
      [&] {
        Tensor short_mean = Tensor::empty(Shape{2});
        ops::layer_norm_forward(ctx, s.x, s.weight, s.bias, s.y, short_mean, s.rstd, 1e-5);
      },
      "layer_norm: save_mean has shape [2], expected [2, 3]");
  expect_error(
      [&] {
        const Tensor dy = test::random_tensor(Shape{2, 3, 5}, gen);
        Tensor dx = Tensor::empty(s.shape);
        ops::layer_norm_backward(ctx, s.x, dy, s.weight, s.mean, s.rstd, &dx, nullptr, nullptr);
      },
      "layer_norm_backward: grad_output has shape [2, 3, 5], expected [2, 3, 4]");
  expect_error(
      [&] {
        Tensor dx = s.dy;
        ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, s.mean, s.rstd, &dx, nullptr, nullptr);
      },
      "layer_norm_backward: grad_input overlaps the input or grad_output");
  expect_error(
      [&] {
        Tensor db = Tensor::empty(Shape{3});
        ops::layer_norm_backward(ctx, s.x, s.dy, s.weight, s.mean, s.rstd, nullptr, nullptr, &db);
      },
      "layer_norm_backward: grad_bias has shape [3], expected [4]");
}

// ---- the layer ----

TEST(LayerNormLayer, ParamsSavedRowsAndASmallerBatch) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 206);
  nn::LayerNorm ln("encoder.ln", 6, 1e-6);
  EXPECT_EQ(ln.setup(Shape{4, 5, 6}), (Shape{4, 5, 6}));
  const auto params = ln.params();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[0].init, nn::ParamInit::Ones);
  EXPECT_EQ(params[1].name, "bias");
  EXPECT_EQ(params[1].init, nn::ParamInit::Zeros);
  const auto saved = ln.saved();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].shape, (Shape{4, 5}));
  EXPECT_FALSE(ln.backward_needs_output());

  const Tensor w = test::random_tensor(Shape{6}, gen, 0.5f, 1.5f),
               b = test::random_tensor(Shape{6}, gen);
  Tensor dw = Tensor::empty(Shape{6}), db = Tensor::empty(Shape{6});
  const Tensor mean = Tensor::empty(Shape{4, 5}), rstd = Tensor::empty(Shape{4, 5});
  ln.bind_params(std::vector<Tensor>{w, b}, std::vector<Tensor>{dw, db});
  ln.bind_saved(std::vector<Tensor>{mean, rstd});
  // A batch of 3 of the planned 4 runs on the leading rows.
  const Tensor x = test::random_tensor(Shape{3, 5, 6}, gen),
               dy = test::random_tensor(Shape{3, 5, 6}, gen);
  Tensor y = Tensor::empty(x.shape()), dx = Tensor::empty(x.shape());
  ln.forward(ctx, x, y, nn::StepInfo{});
  ln.backward(ctx, x, y, dy, &dx, nn::StepInfo{});
  const std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(b);
  EXPECT_TRUE(test::all_close(layer_norm_ref(xd, wd, bd, 1e-6), y, 1e-5, 1e-5));
  const auto of_x = [&](const std::vector<double>& v) { return layer_norm_ref(v, wd, bd, 1e-6); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, xd, to_double(dy)), dx, 1e-4, 1e-5));
  const auto of_w = [&](const std::vector<double>& v) { return layer_norm_ref(xd, v, bd, 1e-6); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_w, wd, to_double(dy)), dw, 1e-5, 1e-5));
}

TEST(LayerNormErrors, Layer) {
  using test::expect_error;
  expect_error([] { nn::LayerNorm("ln", 0); },
               "LayerNorm 'ln': normalized_shape must be at least 1, got 0");
  expect_error([] { nn::LayerNorm("ln", 4, -1e-5); },
               "LayerNorm 'ln': eps must be finite and not negative, got -1e-05");
  nn::LayerNorm ln("ln", 4);
  expect_error([&] { ln.setup(Shape{8}); },
               "LayerNorm: expected at least 2 dimensions (N, ..., D), got [8]");
  expect_error(
      [&] {
        ln.setup(Shape{2, 3, 5});
      },
      "LayerNorm: input [2, 3, 5] has 5 features in its last dimension, normalized_shape "
      "is 4");
}

}  // namespace
}  // namespace kestrel
