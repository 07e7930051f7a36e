// drop_path (torchvision.ops.stochastic_depth, mode "row") against a float64 reference built
// from the documented rule (sample n kept iff uniform(seed, stream, n) >= p, survivors scaled by
// 1 / (1 - p)): forward, backward against central differences with that mask, whole samples
// kept or dropped, the keep rate against binomial bounds, evaluation / p = 0 / p = 1, in place,
// 1 vs 2 threads; the layer draws from (seed, dropout_stream(step, layer index)) as Dropout does.
#include "engine/nn/drop_path.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/ops/drop_path.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::to_double;

std::vector<double> drop_path_ref(const std::vector<double>& x, int64_t batch,
                                  const kernels::DropoutSpec& s) {
  std::vector<double> y(x.size());
  const size_t per = x.size() / static_cast<size_t>(batch);
  const double keep = 1.0 - static_cast<double>(s.p);
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = rng::uniform(s.seed, s.stream, i / per) >= s.p ? x[i] / keep : 0.0;
  return y;
}

struct DropPathCase {
  Shape shape;
  float p;
};
void PrintTo(const DropPathCase& c, std::ostream* os) { *os << c.shape.str() << " p=" << c.p; }

class DropPathTest : public ::testing::TestWithParam<DropPathCase> {};

TEST_P(DropPathTest, ForwardAndBackwardMatchReference) {
  std::mt19937_64 gen(test::test_seed() + 501);
  Context ctx;
  const Shape shape = GetParam().shape;
  const kernels::DropoutSpec spec{GetParam().p, gen(), gen()};
  const Tensor x = test::random_tensor(shape, gen, 0.5f, 1.5f),
               dy = test::random_tensor(shape, gen);
  Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
  y.fill(NAN);
  dx.fill(NAN);
  ops::drop_path_forward(ctx, x, y, spec, /*training=*/true);
  ops::drop_path_backward(ctx, dy, dx, spec, /*training=*/true);
  EXPECT_TRUE(test::all_close(drop_path_ref(to_double(x), shape[0], spec), y, 2.5e-7, 0.0));
  const auto f = [&](const std::vector<double>& v) { return drop_path_ref(v, shape[0], spec); };
  EXPECT_TRUE(
      test::all_close(test::numeric_gradient(f, to_double(x), to_double(dy)), dx, 1e-6, 1e-7));
  // Whole samples: all of a sample's values kept, or none.
  const auto yv = y.to_vector();
  const size_t per = yv.size() / static_cast<size_t>(shape[0]);
  for (size_t n = 0; n < static_cast<size_t>(shape[0]); ++n) {
    size_t zeros = 0;
    for (size_t j = 0; j < per; ++j) zeros += yv[n * per + j] == 0.0f ? 1 : 0;
    EXPECT_TRUE(zeros == 0 || zeros == per) << "sample " << n;
  }
  // In place gives the same bits.
  Tensor inplace = x.to(Device::cpu());
  ops::drop_path_forward(ctx, inplace, inplace, spec, true);
  EXPECT_TRUE(test::same_bits(y, inplace));
}

INSTANTIATE_TEST_SUITE_P(Cases, DropPathTest,
                         ::testing::Values(DropPathCase{Shape{16, 5, 7}, 0.3f},
                                           DropPathCase{Shape{1, 4, 3}, 0.5f},
                                           DropPathCase{Shape{9, 2, 3, 3}, 0.1f},
                                           DropPathCase{Shape{12, 6}, 0.7f}));

TEST(DropPath, KeepRateWithinBinomialBounds) {
  std::mt19937_64 gen(test::test_seed() + 502);
  Context ctx;
  const int64_t n = 20000;
  const float p = 0.25f;
  Tensor xs = test::random_tensor(Shape{n, 2}, gen, 0.5f, 1.5f), y = Tensor::empty(Shape{n, 2});
  ops::drop_path_forward(ctx, xs, y, kernels::DropoutSpec{p, gen(), gen()}, true);
  int64_t kept = 0;
  const auto v = y.to_vector();
  for (int64_t i = 0; i < n; ++i) kept += v[static_cast<size_t>(2 * i)] != 0.0f ? 1 : 0;
  const double expected = n * (1.0 - p), sd = std::sqrt(n * p * (1.0 - p));
  EXPECT_NEAR(static_cast<double>(kept), expected, 5 * sd);
}

TEST(DropPath, IdentitiesOfEvaluationAndExtremes) {
  std::mt19937_64 gen(test::test_seed() + 503);
  Context ctx;
  const Shape shape{6, 3, 4};
  const Tensor x = test::random_tensor(shape, gen, 0.5f, 1.5f);
  Tensor y = Tensor::empty(shape);
  ops::drop_path_forward(ctx, x, y, kernels::DropoutSpec{0.5f, 1, 2}, /*training=*/false);
  EXPECT_TRUE(test::same_bits(x, y));
  ops::drop_path_forward(ctx, x, y, kernels::DropoutSpec{0.0f, 1, 2}, true);
  EXPECT_TRUE(test::same_bits(x, y));
  ops::drop_path_forward(ctx, x, y, kernels::DropoutSpec{1.0f, 1, 2}, true);
  for (float v : y.to_vector()) EXPECT_EQ(v, 0.0f);
}

TEST(DropPath, ThreadCountDoesNotChangeResults) {
  std::mt19937_64 gen(test::test_seed() + 504);
  Context ctx;
  const Shape shape{64, 17, 48};  // 52,224 elements: spread over threads
  const Tensor x = test::random_tensor(shape, gen);
  const kernels::DropoutSpec spec{0.4f, gen(), gen()};
  Tensor y[2];
  for (int t = 0; t < 2; ++t) {
    cpu::set_num_threads(t + 1);
    y[t] = Tensor::empty(shape);
    ops::drop_path_forward(ctx, x, y[t], spec, true);
  }
  cpu::set_num_threads(0);
  EXPECT_TRUE(test::same_bits(y[0], y[1]));
}

TEST(DropPathLayer, DrawsFromTheStepAndLayerStream) {
  std::mt19937_64 gen(test::test_seed() + 505);
  Context ctx;
  nn::DropPath layer("encoder.layers.encoder_layer_0.drop_path", 0.5f);
  layer.set_index(7);
  EXPECT_EQ(layer.type(), "StochasticDepth");
  EXPECT_EQ(layer.aliasing(), nn::Aliasing::InPlace);
  EXPECT_FALSE(layer.backward_needs_input());
  const Shape shape{32, 3, 2};
  EXPECT_EQ(layer.setup(shape), shape);
  const Tensor x = test::random_tensor(shape, gen, 0.5f, 1.5f),
               dy = test::random_tensor(shape, gen);
  nn::StepInfo step{true, 11, 99};
  Tensor y = Tensor::empty(shape), dx = Tensor::empty(shape);
  layer.forward(ctx, x, y, step);
  layer.backward(ctx, x, y, dy, &dx, step);
  const kernels::DropoutSpec expected{0.5f, 99, kernels::dropout_stream(11, 7)};
  EXPECT_TRUE(test::all_close(drop_path_ref(to_double(x), 32, expected), y, 2.5e-7, 0.0));
  EXPECT_TRUE(test::all_close(drop_path_ref(to_double(dy), 32, expected), dx, 2.5e-7, 0.0));
  // Another step draws another mask (32 samples: the same one by chance is 2^-32-unlikely).
  Tensor y12 = Tensor::empty(shape);
  layer.forward(ctx, x, y12, nn::StepInfo{true, 12, 99});
  EXPECT_FALSE(test::same_bits(y, y12));
  // Evaluation: identity.
  layer.forward(ctx, x, y, nn::StepInfo{false, 11, 99});
  EXPECT_TRUE(test::same_bits(x, y));
}

TEST(DropPathErrors, OpAndLayer) {
  Context ctx;
  using test::expect_error;
  expect_error([] { nn::DropPath("dp", 1.5f); }, "DropPath 'dp': p must be in [0, 1], got 1.5");
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2});
  expect_error(
      [&] {
        ops::drop_path_forward(ctx, x, y, kernels::DropoutSpec{0.1f, 0, 0}, true);
      },
      "drop_path: output has shape [3, 2], expected [2, 3]");
  Tensor ok = Tensor::zeros(Shape{2, 3});
  expect_error(
      [&] {
        ops::drop_path_backward(ctx, x, ok, kernels::DropoutSpec{-0.1f, 0, 0}, true);
      },
      "drop_path_backward: p must be in [0, 1], got -0.1");
}

}  // namespace
}  // namespace kestrel
