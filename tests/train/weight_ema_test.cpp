// train::WeightEma: the averaged weights after a series of updates against a float64
// reference of  e <- e + (1 - d_n) (p - e),  d_n = min(decay, (1 + n) / (10 + n));  the halt
// flag skips an update; the swap exchanges the buffers exactly; bad arguments are refused.
#include "engine/train/weight_ema.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"

namespace kestrel::train {
namespace {

TEST(WeightEma, DecayWarmsUpToItsValue) {
  EXPECT_DOUBLE_EQ(WeightEma::decay_at(0.999, 0), 0.1);
  EXPECT_DOUBLE_EQ(WeightEma::decay_at(0.999, 8), 0.5);
  EXPECT_DOUBLE_EQ(WeightEma::decay_at(0.9, 80), 0.9);  // 81/90 = 0.9: the cap from here on
  EXPECT_DOUBLE_EQ(WeightEma::decay_at(0.9, 1000), 0.9);
}

// 25 updates at decay 0.7, reached at n = 20: the weight 1 - d_n goes from 0.9 down to 0.3, so
// both branches of the lerp formula (w >= 0.5 and w < 0.5) run.
TEST(WeightEma, UpdatesMatchFloat64Reference) {
  std::mt19937_64 gen(test::test_seed());
  const int64_t n = 1000;
  Context ctx;
  Tensor params = test::random_tensor(Shape{n}, gen);
  WeightEma ema(0.7);
  ema.start(ctx, params);
  std::vector<double> expected = test::to_double(params);
  for (int64_t u = 0; u < 25; ++u) {
    params = test::random_tensor(Shape{n}, gen);
    ema.update(ctx, params, nullptr);
    const double w = 1.0 - WeightEma::decay_at(0.7, u);
    const std::vector<double> p = test::to_double(params);
    for (size_t i = 0; i < p.size(); ++i) expected[i] += w * (p[i] - expected[i]);
  }
  EXPECT_EQ(ema.updates(), 25);
  // Each update rounds once or twice (a few ulps of the weights' magnitude, 1).
  EXPECT_TRUE(test::all_close(expected, ema.averaged(), 1e-6, 1e-6));
}

TEST(WeightEma, ASetHaltFlagSkipsTheUpdate) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor start = test::random_tensor(Shape{300}, gen);
  WeightEma ema(0.9);
  ema.start(ctx, start);
  const int32_t halted = 1;
  ema.update(ctx, test::random_tensor(Shape{300}, gen), &halted);
  EXPECT_EQ(ema.averaged().to_vector(), start.to_vector());
  const int32_t running = 0;
  ema.update(ctx, test::random_tensor(Shape{300}, gen), &running);
  EXPECT_NE(ema.averaged().to_vector(), start.to_vector());
}

TEST(WeightEma, SwapExchangesTheBuffersExactly) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  Tensor params = test::random_tensor(Shape{777}, gen);
  WeightEma ema(0.9);
  ema.start(ctx, params);
  params = test::random_tensor(Shape{777}, gen);
  ema.update(ctx, params, nullptr);
  const std::vector<float> live = params.to_vector(), avg = ema.averaged().to_vector();
  ema.swap_with(ctx, params);
  EXPECT_EQ(params.to_vector(), avg);
  EXPECT_EQ(ema.averaged().to_vector(), live);
  ema.swap_with(ctx, params);
  EXPECT_EQ(params.to_vector(), live);
}

TEST(WeightEma, OneAndTwoThreadsGiveIdenticalBits) {
  const auto run = [](int threads) {
    cpu::set_num_threads(threads);
    std::mt19937_64 gen(test::test_seed() + 3);
    Context ctx;
    WeightEma ema(0.99);
    ema.start(ctx, test::random_tensor(Shape{100003}, gen));
    for (int u = 0; u < 5; ++u) ema.update(ctx, test::random_tensor(Shape{100003}, gen), nullptr);
    return ema.averaged().to_vector();
  };
  const std::vector<float> one = run(1), two = run(2);
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * 4), 0);
}

TEST(WeightEma, RejectsBadArguments) {
  test::expect_error([] { WeightEma ema(1.0); }, "--ema must be in (0, 1)");
  test::expect_error([] { WeightEma ema(0.0); }, "--ema must be in (0, 1)");
  Context ctx;
  WeightEma ema(0.9);
  test::expect_error([&] { ema.update(ctx, Tensor::zeros(Shape{4}), nullptr); },
                     "update before start");
  ema.start(ctx, Tensor::zeros(Shape{4}));
  test::expect_error([&] { ema.update(ctx, Tensor::zeros(Shape{5}), nullptr); },
                     "5 parameters but the average holds 4");
}

}  // namespace
}  // namespace kestrel::train
