// batch_norm and nn::BatchNorm2d against a float64 reference written here from PyTorch's
// definitions (torch.nn.functional.batch_norm: biased batch variance to normalise, unbiased
// variance into running_var, running = (1 - momentum) * running + momentum * batch, or the
// cumulative average for momentum=None): forward in training and evaluation, the running
// statistics over several steps, backward (x, weight, bias) against central differences of
// the reference in both modes, odd shapes, a large mean, 1 vs 2 threads, the host loops against
// the functors, errors; then the layer inside a small conv net (conv -> BN -> ReLU): names,
// initialisation (weight 1, bias 0 under every scheme), in-place ReLU, gradients against
// central differences of the whole net, evaluation with the running statistics, checkpoints.
#include "engine/nn/batch_norm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/checkpoint/checkpoint.hpp"
#include "engine/init/init.hpp"
#include "engine/nn/activation.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/ops/batch_norm.hpp"
#include "kernels/common/activation.hpp"
#include "kernels/cpu/batch_norm.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/graph_reference.hpp"
#include "tests/engine/graph_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scratch_dir.hpp"

namespace kestrel {
namespace {

constexpr double kEps = 1e-5;

// ---- the float64 reference ----

struct Dims {
  int64_t n, c, inner;
};

Dims dims_of(const Shape& s) {
  int64_t inner = 1;
  for (int d = 2; d < s.ndim(); ++d) inner *= s[d];
  return {s[0], s[1], inner};
}

size_t at(const Dims& d, int64_t n, int64_t c, int64_t k) {
  return static_cast<size_t>((n * d.c + c) * d.inner + k);
}

struct Stats {
  std::vector<double> mean, var;  // var biased
};

// Two passes: the mean, then the mean squared deviation.
Stats batch_stats_ref(const std::vector<double>& x, const Dims& d) {
  Stats s{std::vector<double>(static_cast<size_t>(d.c)),
          std::vector<double>(static_cast<size_t>(d.c))};
  const double m = static_cast<double>(d.n * d.inner);
  for (int64_t c = 0; c < d.c; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t k = 0; k < d.inner; ++k) sum += x[at(d, n, c, k)];
    const double mean = sum / m;
    double sq = 0.0;
    for (int64_t n = 0; n < d.n; ++n)
      for (int64_t k = 0; k < d.inner; ++k)
        sq += (x[at(d, n, c, k)] - mean) * (x[at(d, n, c, k)] - mean);
    s.mean[static_cast<size_t>(c)] = mean;
    s.var[static_cast<size_t>(c)] = sq / m;
  }
  return s;
}

// (x - mean) / sqrt(var + eps) * weight + bias; weight and bias empty without affine.
std::vector<double> normalise_ref(const std::vector<double>& x, const Dims& d, const Stats& s,
                                  const std::vector<double>& weight,
                                  const std::vector<double>& bias) {
  std::vector<double> y(x.size());
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t k = 0; k < d.inner; ++k) {
        const size_t ci = static_cast<size_t>(c);
        const double xhat = (x[at(d, n, c, k)] - s.mean[ci]) / std::sqrt(s.var[ci] + kEps);
        y[at(d, n, c, k)] = weight.empty() ? xhat : xhat * weight[ci] + bias[ci];
      }
  return y;
}

struct Running {
  std::vector<double> mean, var;
  int64_t count = 0;
};

// What a training pass does to the running statistics (momentum nullopt: cumulative average).
void update_running_ref(Running& r, const Stats& batch, int64_t per_channel,
                        std::optional<double> momentum) {
  r.count += 1;
  const double f = momentum ? *momentum : 1.0 / static_cast<double>(r.count);
  const double m = static_cast<double>(per_channel);
  for (size_t c = 0; c < r.mean.size(); ++c) {
    r.mean[c] = (1.0 - f) * r.mean[c] + f * batch.mean[c];
    r.var[c] = (1.0 - f) * r.var[c] + f * batch.var[c] * m / (m - 1.0);
  }
}

std::vector<double> doubles(const Tensor& t) { return test::to_double(t); }

// ---- the op on one shape ----

struct BnCase {
  std::string name;
  Shape input;
};

void PrintTo(const BnCase& c, std::ostream* os) { *os << c.name << " " << c.input.str(); }

// Inputs, parameters and running statistics of one case, with the op's outputs.
struct BnSetup {
  Shape shape;
  Dims d;
  Tensor x, weight, bias, dy;
  ops::BatchNormRunning running;
  Tensor y, save_mean, save_invstd;

  BnSetup(const Shape& s, std::mt19937_64& gen) : shape(s), d(dims_of(s)) {
    const Shape ch{d.c};
    // Off-centre inputs, so that a wrong mean shows.
    x = test::random_tensor(s, gen, 1.0f, 4.0f);
    weight = test::random_tensor(ch, gen, 0.5f, 1.5f);
    bias = test::random_tensor(ch, gen, -1.0f, 1.0f);
    dy = test::random_tensor(s, gen);
    running = {test::random_tensor(ch, gen, -1.0f, 1.0f), test::random_tensor(ch, gen, 0.5f, 2.0f),
               Tensor::zeros(Shape{}, DType::I64)};
    running.num_batches_tracked.data<int64_t>()[0] = 3;
    y = Tensor::empty(s);
    save_mean = Tensor::empty(ch);
    save_invstd = Tensor::empty(ch);
  }
  void forward(const Context& ctx, bool training, std::optional<double> momentum = 0.1) {
    ops::batch_norm_forward(ctx, x, weight, bias, running, y, save_mean, save_invstd,
                            ops::BatchNormSpec{training, kEps, momentum});
  }
};

class BatchNormOpTest : public ::testing::TestWithParam<BnCase> {
 protected:
  Context ctx;
  const Shape& shape() const { return GetParam().input; }
};

TEST_P(BatchNormOpTest, TrainingForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 70);
  BnSetup s(shape(), gen);
  Running expected{doubles(s.running.mean), doubles(s.running.var), 3};
  s.forward(ctx, /*training=*/true);
  const Stats batch = batch_stats_ref(doubles(s.x), s.d);
  EXPECT_TRUE(
      test::all_close(normalise_ref(doubles(s.x), s.d, batch, doubles(s.weight), doubles(s.bias)),
                      s.y, 1e-5, 1e-5));
  std::vector<double> invstd;
  for (double v : batch.var) invstd.push_back(1.0 / std::sqrt(v + kEps));
  EXPECT_TRUE(test::all_close(batch.mean, s.save_mean, 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(invstd, s.save_invstd, 1e-6, 0.0));
  update_running_ref(expected, batch, s.d.n * s.d.inner, 0.1);
  EXPECT_TRUE(test::all_close(expected.mean, s.running.mean, 1e-6, 1e-7));
  EXPECT_TRUE(test::all_close(expected.var, s.running.var, 1e-6, 1e-7));
  EXPECT_EQ(s.running.num_batches_tracked.data<int64_t>()[0], 4);
}

TEST_P(BatchNormOpTest, EvalForwardUsesTheRunningStatisticsAndLeavesThem) {
  std::mt19937_64 gen(test::test_seed() + 71);
  BnSetup s(shape(), gen);
  const std::vector<float> mean_before = s.running.mean.to_vector(),
                           var_before = s.running.var.to_vector();
  s.forward(ctx, /*training=*/false);
  const Stats running{doubles(s.running.mean), doubles(s.running.var)};
  EXPECT_TRUE(
      test::all_close(normalise_ref(doubles(s.x), s.d, running, doubles(s.weight), doubles(s.bias)),
                      s.y, 1e-5, 1e-5));
  EXPECT_TRUE(test::same_bits(mean_before, s.running.mean.to_vector()));
  EXPECT_TRUE(test::same_bits(var_before, s.running.var.to_vector()));
  EXPECT_EQ(s.running.num_batches_tracked.data<int64_t>()[0], 3);
}

// dx, dweight and dbias against central differences of the reference in the given mode.
void check_backward(const Context& ctx, BnSetup& s, bool training) {
  s.forward(ctx, training);
  std::mt19937_64 garbage(1);
  Tensor dx = test::random_tensor(s.shape, garbage);  // the backward must overwrite it
  Tensor dweight = Tensor::zeros(Shape{s.d.c}), dbias = Tensor::zeros(Shape{s.d.c});
  dweight.fill(NAN);
  dbias.fill(NAN);
  ops::batch_norm_backward(ctx, s.x, s.dy, s.weight, s.save_mean, s.save_invstd, &dx, &dweight,
                           &dbias, ops::BatchNormSpec{training, kEps, 0.1});
  const std::vector<double> x = doubles(s.x), w = doubles(s.weight), b = doubles(s.bias),
                            r = doubles(s.dy);
  const Stats running{doubles(s.running.mean), doubles(s.running.var)};
  const auto stats = [&](const std::vector<double>& v) {
    return training ? batch_stats_ref(v, s.d) : running;
  };
  const auto of_x = [&](const std::vector<double>& v) {
    return normalise_ref(v, s.d, stats(v), w, b);
  };
  const auto of_w = [&](const std::vector<double>& v) {
    return normalise_ref(x, s.d, stats(x), v, b);
  };
  const auto of_b = [&](const std::vector<double>& v) {
    return normalise_ref(x, s.d, stats(x), w, v);
  };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, x, r), dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_w, w, r), dweight, 1e-5, 1e-5))
      << "dweight";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_b, b, r), dbias, 1e-5, 1e-5)) << "dbias";
}

TEST_P(BatchNormOpTest, TrainingBackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 72);
  BnSetup s(shape(), gen);
  check_backward(ctx, s, /*training=*/true);
}

TEST_P(BatchNormOpTest, EvalBackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 73);
  BnSetup s(shape(), gen);
  check_backward(ctx, s, /*training=*/false);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BatchNormOpTest,
    ::testing::Values(BnCase{"general", Shape{4, 3, 6, 5}},
                      BnCase{"one_channel", Shape{4, 1, 3, 3}}, BnCase{"batch1", Shape{1, 3, 4, 5}},
                      BnCase{"planes5x7", Shape{3, 4, 5, 7}},
                      BnCase{"one_by_one_planes", Shape{6, 5, 1, 1}},
                      BnCase{"two_dims", Shape{7, 3}}, BnCase{"three_dims", Shape{2, 3, 9}},
                      BnCase{"long_planes", Shape{2, 2, 3, 29}}),
    [](const ::testing::TestParamInfo<BnCase>& param) { return param.param.name; });

// ---- across steps, modes and options ----

TEST(BatchNorm, RunningStatisticsFollowTheReferenceOverSeveralSteps) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 74);
  const Shape shape{3, 4, 5, 7};
  for (std::optional<double> momentum :
       {std::optional<double>(0.1), std::optional<double>(0.35), std::optional<double>()}) {
    SCOPED_TRACE(momentum ? "momentum " + std::to_string(*momentum) : "momentum None");
    BnSetup s(shape, gen);
    s.running.mean.fill(0.0f);
    s.running.var.fill(1.0f);
    s.running.num_batches_tracked.data<int64_t>()[0] = 0;
    Running expected{std::vector<double>(4, 0.0), std::vector<double>(4, 1.0), 0};
    for (int step = 0; step < 6; ++step) {
      s.x = test::random_tensor(shape, gen, -1.0f + step, 2.0f + 2 * step);
      s.forward(ctx, /*training=*/true, momentum);
      update_running_ref(expected, batch_stats_ref(doubles(s.x), s.d), s.d.n * s.d.inner, momentum);
      // An evaluation pass between training steps changes nothing.
      s.forward(ctx, /*training=*/false, momentum);
    }
    EXPECT_TRUE(test::all_close(expected.mean, s.running.mean, 1e-6, 1e-6));
    EXPECT_TRUE(test::all_close(expected.var, s.running.var, 1e-6, 1e-6));
    EXPECT_EQ(s.running.num_batches_tracked.data<int64_t>()[0], 6);
  }
}

TEST(BatchNorm, WithoutAffineOrRunningStatistics) {
  // affine=False: no weight or bias (1 and 0); track_running_stats=False: batch statistics
  // and nothing to update.
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 75);
  const Shape shape{3, 2, 4, 3};
  const Dims d = dims_of(shape);
  const Tensor x = test::random_tensor(shape, gen, -3.0f, 1.0f),
               dy = test::random_tensor(shape, gen);
  ops::BatchNormRunning none;
  Tensor y = Tensor::empty(shape), mean = Tensor::empty(Shape{2}), invstd = Tensor::empty(Shape{2});
  ops::batch_norm_forward(ctx, x, Tensor(), Tensor(), none, y, mean, invstd, ops::BatchNormSpec{});
  EXPECT_TRUE(test::all_close(normalise_ref(doubles(x), d, batch_stats_ref(doubles(x), d), {}, {}),
                              y, 1e-5, 1e-5));
  Tensor dx = Tensor::empty(shape), dbias = Tensor::empty(Shape{2});
  ops::batch_norm_backward(ctx, x, dy, Tensor(), mean, invstd, &dx, nullptr, &dbias,
                           ops::BatchNormSpec{});
  const auto of_x = [&](const std::vector<double>& v) {
    return normalise_ref(v, d, batch_stats_ref(v, d), {}, {});
  };
  EXPECT_TRUE(
      test::all_close(test::numeric_gradient(of_x, doubles(x), doubles(dy)), dx, 1e-4, 1e-5));
  std::vector<double> sums(2, 0.0);
  const std::vector<double> g = doubles(dy);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c)
      for (int64_t k = 0; k < d.inner; ++k) sums[static_cast<size_t>(c)] += g[at(d, n, c, k)];
  EXPECT_TRUE(test::all_close(sums, dbias, 1e-6, 1e-6));
}

TEST(BatchNorm, LargeMeanKeepsTheVarianceAccurate) {
  // Values near 1000 with a spread of 1: E[x^2] - mean^2 in f32 would lose every digit; the
  // shifted sums in double keep the variance to f32 precision.
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 76);
  const Shape shape{8, 2, 16, 16};
  BnSetup s(shape, gen);
  s.x = test::random_tensor(shape, gen, 999.0f, 1001.0f);
  s.forward(ctx, /*training=*/true);
  const Stats batch = batch_stats_ref(doubles(s.x), s.d);
  std::vector<double> invstd;
  for (double v : batch.var) invstd.push_back(1.0 / std::sqrt(v + kEps));
  EXPECT_TRUE(test::all_close(batch.mean, s.save_mean, 1e-7, 0.0));
  EXPECT_TRUE(test::all_close(invstd, s.save_invstd, 1e-6, 0.0));
  EXPECT_TRUE(
      test::all_close(normalise_ref(doubles(s.x), s.d, batch, doubles(s.weight), doubles(s.bias)),
                      s.y, 1e-4, 1e-4));
}

TEST(BatchNorm, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 77);
  const Shape shape{16, 8, 15, 17};  // 2 * 32,640 element operations: spread over threads
  BnSetup s(shape, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    std::vector<float> all;
    const auto keep = [&](const Tensor& t) {
      const auto v = t.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    };
    ops::BatchNormRunning running{s.running.mean.to(Device::cpu()), s.running.var.to(Device::cpu()),
                                  s.running.num_batches_tracked.to(Device::cpu())};
    for (bool training : {true, false}) {
      Tensor y = Tensor::empty(shape), mean = Tensor::empty(Shape{8}),
             invstd = Tensor::empty(Shape{8});
      const ops::BatchNormSpec spec{training, kEps, 0.1};
      ops::batch_norm_forward(ctx, s.x, s.weight, s.bias, running, y, mean, invstd, spec);
      Tensor dx = Tensor::empty(shape), dw = Tensor::empty(Shape{8}), db = Tensor::empty(Shape{8});
      ops::batch_norm_backward(ctx, s.x, s.dy, s.weight, mean, invstd, &dx, &dw, &db, spec);
      for (const Tensor& t : {y, mean, invstd, dx, dw, db, running.mean, running.var}) keep(t);
    }
    cpu::set_num_threads(0);
    return all;
  };
  const auto one = run(1), two = run(2);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

TEST(BatchNorm, HostLoopsGiveTheFunctorsBits) {
  // The GPU runs BatchNormApply and BatchNormBackwardInput element by element; the host walks
  // planes with the same expressions. Run both here on the same data.
  std::mt19937_64 gen(test::test_seed() + 78);
  const Shape shape{3, 5, 7, 5};
  BnSetup s(shape, gen);
  s.forward(Context(), /*training=*/true);
  const kernels::BatchNormGeometry g{3, 5, 35};
  for (bool affine : {true, false}) {
    Tensor y_loop = Tensor::empty(shape), y_functor = Tensor::empty(shape);
    const float* w = affine ? s.weight.data<float>() : nullptr;
    const float* b = affine ? s.bias.data<float>() : nullptr;
    kernels::BatchNormApply apply{g,
                                  s.x.data<float>(),
                                  y_loop.data<float>(),
                                  s.save_mean.data<float>(),
                                  s.save_invstd.data<float>(),
                                  w,
                                  b};
    cpu::batch_norm_apply(apply);
    apply.y = y_functor.data<float>();
    cpu::launch(s.x.numel(), apply);
    EXPECT_TRUE(test::same_bits(y_functor, y_loop));
    // An absorbed ReLU: ReluForward's bits on the plain pass's output, on both walks.
    Tensor relu_ref = Tensor::empty(shape), relu_loop = Tensor::empty(shape);
    cpu::launch(s.x.numel(), kernels::ReluForward{y_loop.data<float>(), relu_ref.data<float>()});
    apply.relu = true;
    apply.y = relu_loop.data<float>();
    cpu::batch_norm_apply(apply);
    EXPECT_TRUE(test::same_bits(relu_loop, relu_ref));
    apply.y = y_functor.data<float>();
    cpu::launch(s.x.numel(), apply);
    EXPECT_TRUE(test::same_bits(y_functor, relu_ref));
    apply.relu = false;
    const std::vector<float> plain = y_loop.to_vector();  // before: the ReLU has work to do
    EXPECT_TRUE(std::any_of(plain.begin(), plain.end(), [](float v) { return v < 0.0f; }));

    Tensor coefficients = Tensor::empty(Shape{2, 5});
    cpu::batch_norm_backward_reduce(
        g, s.x.data<float>(), s.dy.data<float>(),
        kernels::BatchNormBackwardOut{s.save_mean.data<float>(), s.save_invstd.data<float>(),
                                      nullptr, nullptr, coefficients.data<float>()});
    for (const float* c : {static_cast<const float*>(coefficients.data<float>()),
                           static_cast<const float*>(nullptr)}) {
      Tensor dx_loop = Tensor::empty(shape), dx_functor = Tensor::empty(shape);
      kernels::BatchNormBackwardInput input{g,
                                            s.x.data<float>(),
                                            s.dy.data<float>(),
                                            dx_loop.data<float>(),
                                            s.save_mean.data<float>(),
                                            s.save_invstd.data<float>(),
                                            w,
                                            c};
      cpu::batch_norm_backward_input(input);
      input.dx = dx_functor.data<float>();
      cpu::launch(s.x.numel(), input);
      EXPECT_TRUE(test::same_bits(dx_functor, dx_loop));
    }
  }
}

TEST(BatchNormErrors, Op) {
  Context ctx;
  const Shape shape{2, 3, 2, 2};
  const Tensor x = Tensor::zeros(shape);
  Tensor y = Tensor::zeros(shape), mean = Tensor::zeros(Shape{3}), invstd = Tensor::zeros(Shape{3});
  const Tensor w = Tensor::zeros(Shape{3}), b = Tensor::zeros(Shape{3});
  ops::BatchNormRunning running{Tensor::zeros(Shape{3}), Tensor::zeros(Shape{3}),
                                Tensor::zeros(Shape{}, DType::I64)};
  ops::BatchNormRunning none;
  const ops::BatchNormSpec train{}, eval{false, kEps, 0.1};
  using test::expect_error;
  expect_error(
      [&] {
        const Tensor single = Tensor::zeros(Shape{1, 3, 1, 1});
        Tensor out = Tensor::zeros(Shape{1, 3, 1, 1});
        ops::batch_norm_forward(ctx, single, w, b, running, out, mean, invstd, train);
      },
      "batch_norm: expected more than 1 value per channel when training, got input "
      "[1, 3, 1, 1]");
  expect_error([&] { ops::batch_norm_forward(ctx, x, w, b, none, y, mean, invstd, eval); },
               "batch_norm: evaluation (training false) needs the running statistics");
  expect_error(
      [&] {
        const Tensor w4 = Tensor::zeros(Shape{4});
        ops::batch_norm_forward(ctx, x, w4, b, running, y, mean, invstd, train);
      },
      "batch_norm: weight has shape [4], expected [3]");
  expect_error(
      [&] {
        ops::BatchNormRunning partial{running.mean, running.var, Tensor()};
        ops::batch_norm_forward(ctx, x, w, b, partial, y, mean, invstd, train);
      },
      "batch_norm: running_mean, running_var and num_batches_tracked must all be given or all "
      "be undefined, got 2 of 3");
  expect_error(
      [&] {
        ops::BatchNormRunning f32_count{running.mean, running.var, Tensor::zeros(Shape{})};
        ops::batch_norm_forward(ctx, x, w, b, f32_count, y, mean, invstd, train);
      },
      "batch_norm: num_batches_tracked must be i64, got f32[]");
  expect_error(
      [&] {
        ops::batch_norm_forward(ctx, x, w, b, running, y, mean, invstd,
                                ops::BatchNormSpec{true, kEps, 1.5});
      },
      "batch_norm: momentum must lie in [0, 1], got 1.5");
  expect_error(
      [&] {
        ops::batch_norm_forward(ctx, x, w, b, running, y, mean, invstd,
                                ops::BatchNormSpec{true, -1.0, 0.1});
      },
      "batch_norm: eps must be finite and not negative, got -1");
  expect_error(
      [&] {
        Tensor same = x;
        ops::batch_norm_forward(ctx, x, w, b, running, same, mean, invstd, train);
      },
      "batch_norm: output overlaps the input");
  expect_error(
      [&] {
        const Tensor flat = Tensor::zeros(Shape{6});
        Tensor out = Tensor::zeros(Shape{6});
        ops::batch_norm_forward(ctx, flat, w, b, running, out, mean, invstd, train);
      },
      "batch_norm: input must have at least 2 dimensions (N, C, ...), got [6]");
  expect_error(
      [&] {
        Tensor short_mean = Tensor::zeros(Shape{2});
        ops::batch_norm_forward(ctx, x, w, b, running, y, short_mean, invstd, train);
      },
      "batch_norm: save_mean has shape [2], expected [3]");
  expect_error(
      [&] {
        Tensor dw = Tensor::zeros(Shape{3});
        ops::batch_norm_backward(ctx, x, y, Tensor(), mean, invstd, nullptr, &dw, nullptr, train);
      },
      "batch_norm_backward: grad_weight asked for without a weight");
  expect_error(
      [&] {
        const Tensor dy = Tensor::zeros(Shape{2, 3, 2, 3});
        Tensor dx = Tensor::zeros(shape);
        ops::batch_norm_backward(ctx, x, dy, w, mean, invstd, &dx, nullptr, nullptr, train);
      },
      "batch_norm_backward: grad_output has shape [2, 3, 2, 3], expected [2, 3, 2, 2]");
  expect_error(
      [&] {
        Tensor dx = y;
        ops::batch_norm_backward(ctx, x, y, w, mean, invstd, &dx, nullptr, nullptr, train);
      },
      "batch_norm_backward: grad_input overlaps the input or grad_output");
}

TEST(BatchNormErrors, Layer) {
  using test::expect_error;
  expect_error([] { nn::BatchNorm2d("bn", 0); },
               "BatchNorm2d 'bn': num_features must be at least 1, got 0");
  expect_error([] { nn::BatchNorm2d("bn", 3, nn::BatchNormOptions{.momentum = -0.5}); },
               "BatchNorm2d 'bn': momentum must lie in [0, 1], got -0.5");
  nn::BatchNorm2d bn("bn", 3);
  expect_error(
      [&] {
        bn.setup(Shape{2, 3, 4});
      },
      "BatchNorm2d: expected 4D input (N, C, H, W), got [2, 3, 4]");
  expect_error(
      [&] {
        bn.setup(Shape{2, 4, 5, 5});
      },
      "BatchNorm2d: input [2, 4, 5, 5] has 4 channels, num_features is 3");
  // In a graph the error names the layer.
  nn::Graph g;
  g.add<nn::Conv2d>("conv", 1, 2, 3);
  g.add<nn::BatchNorm2d>("bn1", 3);
  g.add<nn::Flatten>("flatten");
  g.add<nn::Linear>("fc", 8, 2);
  expect_error(
      [&] {
        g.plan(Shape{1, 4, 4}, 2, 2);
      },
      "layer bn1 (BatchNorm2d) on input [2, 2, 2, 2]: BatchNorm2d: input [2, 2, 2, 2] "
      "has 2 channels, num_features is 3");
}

// ---- the layer in a graph ----

using test::Act;
using test::bitwise_equal;

constexpr int64_t kClasses = 3;
const Shape kImage{2, 4, 4};

// conv (2 -> 3, 3x3, padding 1) -> BN -> ReLU -> flatten -> fc (48 -> 3).
std::unique_ptr<nn::Graph> bn_graph(nn::BatchNormOptions options = {}) {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv", 2, 3, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::BatchNorm2d>("bn", 3, options);
  g->add<nn::ReLU>("relu");
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 48, kClasses);
  return g;
}

// The net in float64 from packed parameters (state_dict order: conv.weight, conv.bias,
// bn.weight, bn.bias, fc.weight, fc.bias), normalising with the batch's statistics or with
// `running`.
Act bn_net_ref(const std::vector<double>& p, const Act& images, const Stats* running,
               Stats* batch_out = nullptr) {
  const double* conv_w = p.data();
  const double* conv_b = conv_w + 54;
  const std::vector<double> bn_w(conv_b + 3, conv_b + 6), bn_b(conv_b + 6, conv_b + 9);
  const double* fc_w = conv_b + 9;
  const double* fc_b = fc_w + 48 * kClasses;
  Act a = test::conv2d_ref(images, conv_w, conv_b, 3, 3, 1, 1);
  const Dims d{a.n, a.c, a.h * a.w};
  const Stats batch = batch_stats_ref(a.v, d);
  if (batch_out != nullptr) *batch_out = batch;
  a.v = normalise_ref(a.v, d, running != nullptr ? *running : batch, bn_w, bn_b);
  return test::linear_ref(test::flatten_ref(test::relu_ref(a)), fc_w, fc_b, kClasses);
}

TEST(BatchNormGraph, NamesCountsAndInPlaceRelu) {
  auto g = bn_graph();
  g->plan(kImage, 4, kClasses);
  std::vector<std::string> names;
  for (const nn::ParamInfo& p : g->parameter_infos()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias",
                                             "fc.weight", "fc.bias"}));
  const auto& states = g->state_infos();
  ASSERT_EQ(states.size(), 3u);
  EXPECT_EQ(states[0].name, "bn.running_mean");
  EXPECT_EQ(states[0].dtype, DType::F32);
  EXPECT_EQ(states[0].shape, Shape{3});
  EXPECT_EQ(states[1].name, "bn.running_var");
  EXPECT_EQ(states[1].dtype, DType::F32);
  EXPECT_EQ(states[2].name, "bn.num_batches_tracked");
  EXPECT_EQ(states[2].dtype, DType::I64);
  EXPECT_EQ(states[2].shape, Shape{});
  // BN's parameters count as parameters, its buffers as buffers.
  EXPECT_EQ(g->parameter_count(), 54 + 3 + 3 + 3 + 48 * kClasses + kClasses);
  const nn::GraphSummary s = g->summary();
  EXPECT_EQ(s.buffer_elements, 7);
  EXPECT_EQ(s.layers[1].params, 6);
  EXPECT_EQ(s.layers[1].type, "BatchNorm2d");
  // BN's backward reads its input, not its output: the ReLU after it runs in place, and the
  // batch norm absorbs it (BatchNormGraph.GradientsStateAndEvaluationFollowTheReference checks
  // the fused pass against float64).
  EXPECT_EQ(s.layers[1].memory_note, "");
  EXPECT_EQ(s.layers[2].memory_note, "fused");

  // Without affine or tracking: no parameters, no buffers.
  auto bare = bn_graph(nn::BatchNormOptions{.affine = false, .track_running_stats = false});
  bare->plan(kImage, 4, kClasses);
  EXPECT_EQ(bare->parameter_count(), 54 + 3 + 48 * kClasses + kClasses);
  EXPECT_TRUE(bare->state_infos().empty());
}

TEST(BatchNormGraph, InitialisationPutsWeightOneBiasZeroAndLeavesTheOthersAsBefore) {
  Context ctx;
  for (init::InitScheme scheme : {init::InitScheme::PyTorchDefault, init::InitScheme::XavierUniform,
                                  init::InitScheme::XavierNormal, init::InitScheme::KaimingUniform,
                                  init::InitScheme::KaimingNormal}) {
    SCOPED_TRACE(std::string(init::init_scheme_name(scheme)));
    auto g = bn_graph();
    g->freeze("bn.bias");  // a frozen parameter starts at its value too
    g->build(ctx, kImage, 4, kClasses);
    g->initialize(ctx, scheme, 11);
    std::map<std::string, Tensor> t;
    for (const nn::NamedTensor& p : g->state_dict()) t[p.name] = p.tensor;
    EXPECT_EQ(t["bn.weight"].to_vector(), std::vector<float>(3, 1.0f));
    EXPECT_EQ(t["bn.bias"].to_vector(), std::vector<float>(3, 0.0f));
    EXPECT_EQ(t["bn.running_mean"].to_vector(), std::vector<float>(3, 0.0f));
    EXPECT_EQ(t["bn.running_var"].to_vector(), std::vector<float>(3, 1.0f));
    EXPECT_EQ(t["bn.num_batches_tracked"].data<int64_t>()[0], 0);
    // conv and fc exactly as the scheme draws them: stream = node index, ReLU's gain.
    Tensor w = Tensor::empty(Shape{3, 2, 3, 3}), b = Tensor::empty(Shape{3});
    init::initialize(ctx, scheme, w, &b, 11, 0, "relu");
    EXPECT_TRUE(bitwise_equal(w, t["conv.weight"]));
    EXPECT_TRUE(bitwise_equal(b, t["conv.bias"]));
    Tensor fw = Tensor::empty(Shape{kClasses, 48}), fb = Tensor::empty(Shape{kClasses});
    init::initialize(ctx, scheme, fw, &fb, 11, 4, "relu");
    EXPECT_TRUE(bitwise_equal(fw, t["fc.weight"]));
    EXPECT_TRUE(bitwise_equal(fb, t["fc.bias"]));
  }
}

// A layer whose bias starts by the scheme while its weight does not: planning refuses it (the
// schemes draw a bias from its weight's fans).
class SchemeBiasOnly final : public nn::UnaryLayer {
 public:
  using UnaryLayer::UnaryLayer;
  std::string_view type() const override { return "SchemeBiasOnly"; }
  Shape setup(const Shape& input) override { return input; }
  std::vector<nn::ParamSpec> params() const override {
    return {{"weight", Shape{2}, nn::ParamKind::Weight, nn::ParamInit::Ones},
            {"bias", Shape{2}, nn::ParamKind::Bias}};
  }
  void forward(const Context&, const Tensor& x, Tensor& y, const nn::StepInfo&) override {
    y.copy_from(x);
  }
  void backward(const Context&, const Tensor&, const Tensor&, const Tensor& dy, Tensor* dx,
                const nn::StepInfo&) override {
    if (dx != nullptr) dx->copy_from(dy);
  }
};

TEST(BatchNormGraph, ASchemeBiasNeedsASchemeWeight) {
  nn::Graph g;
  g.add<SchemeBiasOnly>("odd");
  test::expect_error([&] { g.plan(Shape{2}, 1, 2); },
                     "graph: layer odd starts its bias by the initialisation scheme but not its "
                     "weight");
}

TEST(BatchNormGraph, GradientsStateAndEvaluationFollowTheReference) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 79);
  auto g = bn_graph();
  g->build(ctx, kImage, 4, kClasses);
  g->initialize(ctx, init::InitScheme::PyTorchDefault, 5);
  // Move BN's parameters off 1 and 0 so that a mix-up shows.
  for (const nn::NamedTensor& p : g->named_parameters())
    if (p.name.rfind("bn.", 0) == 0) {
      Tensor t = p.tensor;
      t.copy_from(test::random_tensor(t.shape(), gen, 0.5f, 1.5f));
    }
  const Tensor images = test::random_tensor(Shape{4, 2, 4, 4}, gen);
  const Tensor labels = test::random_labels(4, kClasses, gen);
  std::vector<int32_t> label_vec = labels.to_int_vector();
  const std::vector<double> p = test::packed_parameters(*g);
  const Act in = test::to_act(images);

  test::loss_and_gradients(ctx, *g, images, labels, 0);
  const auto loss_of = [&](const std::vector<double>& v) {
    return std::vector<double>{test::cross_entropy_ref(bn_net_ref(v, in, nullptr), label_vec)};
  };
  const std::vector<double> expected = test::numeric_gradient(loss_of, p, {1.0});
  EXPECT_TRUE(test::all_close(expected, test::packed_gradients(*g), 1e-4, 1e-5));

  // The running statistics moved by one step of momentum 0.1 from (0, 1).
  Stats batch;
  bn_net_ref(p, in, nullptr, &batch);
  Running running{std::vector<double>(3, 0.0), std::vector<double>(3, 1.0), 0};
  update_running_ref(running, batch, 4 * 16, 0.1);
  const auto state = g->named_state();
  EXPECT_TRUE(test::all_close(running.mean, state[0].tensor, 1e-6, 1e-6));
  EXPECT_TRUE(test::all_close(running.var, state[1].tensor, 1e-6, 1e-6));
  EXPECT_EQ(state[2].tensor.data<int64_t>()[0], 1);

  // Evaluation normalises with them and leaves them alone.
  const Tensor before = g->state().to(Device::cpu());
  const Tensor logits = g->forward(ctx, images, /*training=*/false, 1);
  const Stats run{running.mean, running.var};
  EXPECT_TRUE(test::all_close(bn_net_ref(p, in, &run).v, logits, 1e-5, 1e-5));
  EXPECT_TRUE(bitwise_equal(g->state(), before));
  // A smaller batch in training uses its own rows only.
  const Tensor two = images.slice(0, 2);
  const Tensor small_logits = g->forward(ctx, two, /*training=*/true, 2);
  EXPECT_TRUE(
      test::all_close(bn_net_ref(p, test::to_act(two), nullptr).v, small_logits, 1e-5, 1e-5));
  EXPECT_EQ(g->named_state()[2].tensor.data<int64_t>()[0], 2);
}

TEST(BatchNormGraph, CheckpointsCarryTheRunningStatistics) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 80);
  test::ScratchDir dir;
  auto g = bn_graph();
  g->build(ctx, kImage, 4, kClasses);
  g->initialize(ctx, init::InitScheme::KaimingNormal, 3);
  for (int step = 0; step < 3; ++step)
    test::loss_and_gradients(ctx, *g, test::random_tensor(Shape{4, 2, 4, 4}, gen),
                             test::random_labels(4, kClasses, gen), step);
  const auto named = [](const std::vector<nn::NamedTensor>& v) {
    checkpoint::NamedTensors out;
    for (const auto& t : v) out.emplace_back(t.name, t.tensor);
    return out;
  };
  const std::string path = dir.file("bn.safetensors");
  checkpoint::save_checkpoint(path, named(g->named_parameters()), nullptr, {},
                              named(g->named_state()));
  auto fresh = bn_graph();
  fresh->build(ctx, kImage, 4, kClasses);
  checkpoint::restore_parameters(checkpoint::load_checkpoint(path), named(fresh->state_dict()), "");
  EXPECT_TRUE(bitwise_equal(fresh->state(), g->state()));
  EXPECT_TRUE(bitwise_equal(fresh->parameters(), g->parameters()));
  EXPECT_EQ(fresh->named_state()[2].tensor.data<int64_t>()[0], 3);
  // Both evaluate alike.
  const Tensor images = test::random_tensor(Shape{4, 2, 4, 4}, gen);
  const Tensor a = g->forward(ctx, images, false, 0).to(Device::cpu());
  EXPECT_TRUE(bitwise_equal(fresh->forward(ctx, images, false, 0), a));
}

}  // namespace
}  // namespace kestrel
