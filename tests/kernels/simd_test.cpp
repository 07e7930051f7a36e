// kernels/cpu/simd.hpp's promise: cpu::launch gives the same bits at every vector level (the
// baseline build's SSE2 loop, the AVX2 clone, the AVX-512 clone), functor by functor, on inputs
// that reach every branch of the functors: ordinary values, the kinks, huge and tiny magnitudes,
// subnormals, signed zeros, infinities and NaNs.
#include "kernels/cpu/simd.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/activation.hpp"
#include "kernels/common/batch_norm.hpp"
#include "kernels/common/conv2d_geometry.hpp"
#include "kernels/common/optimizers.hpp"
#include "kernels/cpu/batch_norm.hpp"
#include "kernels/cpu/depthwise_conv2d.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using cpu::SimdLevel;

// Odd, and over several chunks: the parallel split, the vector bodies and their scalar tails.
constexpr int64_t kElements = 3 * cpu::kMinParallelWork + 13;

// Values every functor branch sees: mostly normal(0, 3), with the special ones mixed in.
std::vector<float> awkward_values(std::mt19937_64& gen, int64_t n) {
  const float specials[] = {0.0f, -0.0f, 3.0f, -3.0f, 6.0f, 1e-40f, -1e-40f, 1e30f, -1e30f, 88.7f,
                            -88.7f, 10.5f, -10.5f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> pick(0, 15);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = pick(gen) == 0 ? specials[pick(gen)] : normal(gen);
  return v;
}

// The same bits, except that any NaN matches any NaN (a payload may depend on which operand an
// instruction's encoding puts first, and no kestrel result depends on a payload).
::testing::AssertionResult same_bits_or_both_nan(const std::vector<float>& expected,
                                                const std::vector<float>& actual) {
  if (expected.size() != actual.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i]) && std::isnan(actual[i])) continue;
    if (std::memcmp(&expected[i], &actual[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure()
             << "element " << i << ": " << expected[i] << " at baseline, " << actual[i];
  }
  return ::testing::AssertionSuccess();
}

class SimdLevels : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = cpu::simd_level();
    cpu::set_num_threads(2);
  }
  void TearDown() override {
    cpu::set_simd_level(before_);
    cpu::set_num_threads(0);
  }

  // run() computes outputs from fresh copies of the inputs at the level set; every level above
  // the baseline must give the baseline's outputs.
  void expect_same_at_every_level(const std::function<std::vector<float>()>& run) {
    if (cpu::simd_level_supported() == SimdLevel::Baseline)
      GTEST_SKIP() << "this CPU (or build) has no vector level above the baseline";
    cpu::set_simd_level(SimdLevel::Baseline);
    const std::vector<float> baseline = run();
    for (SimdLevel level : {SimdLevel::Avx2, SimdLevel::Avx512}) {
      if (static_cast<int>(level) > static_cast<int>(cpu::simd_level_supported())) break;
      ASSERT_EQ(cpu::set_simd_level(level), level);
      SCOPED_TRACE(std::string(cpu::simd_level_name(level)));
      EXPECT_TRUE(same_bits_or_both_nan(baseline, run()));
    }
  }

  // An activation's forward y = Forward(x) and its backward dx = Backward(x, dy) (x standing in
  // for whichever of input or output the backward reads).
  template <class Forward, class Backward>
  void expect_activation_same(const char* name, const std::vector<float>& x,
                              const std::vector<float>& dy) {
    SCOPED_TRACE(name);
    const int64_t n = static_cast<int64_t>(x.size());
    expect_same_at_every_level([&] {
      std::vector<float> y(x.size());
      cpu::launch(n, Forward{x.data(), y.data()});
      return y;
    });
    expect_same_at_every_level([&] {
      std::vector<float> dx(x.size());
      cpu::launch(n, Backward{x.data(), dy.data(), dx.data()});
      return dx;
    });
  }

  std::mt19937_64 gen_{test::test_seed() + 2917};

 private:
  SimdLevel before_ = SimdLevel::Baseline;
};

TEST_F(SimdLevels, ActivationsGiveTheBaselineBits) {
  const std::vector<float> x = awkward_values(gen_, kElements);
  const std::vector<float> dy = awkward_values(gen_, kElements);
  expect_activation_same<kernels::ReluForward, kernels::ReluBackward>("relu", x, dy);
  expect_activation_same<kernels::TanhForward, kernels::TanhBackward>("tanh", x, dy);
  expect_activation_same<kernels::SigmoidForward, kernels::SigmoidBackward>("sigmoid", x, dy);
  expect_activation_same<kernels::SiluForward, kernels::SiluBackward>("silu", x, dy);
  expect_activation_same<kernels::GeluErfForward, kernels::GeluErfBackward>("gelu erf", x, dy);
  expect_activation_same<kernels::GeluTanhForward, kernels::GeluTanhBackward>("gelu tanh", x, dy);
  expect_activation_same<kernels::HardswishForward, kernels::HardswishBackward>("hardswish", x,
                                                                                dy);
  expect_activation_same<kernels::Relu6Forward, kernels::Relu6Backward>("relu6", x, dy);
}

TEST_F(SimdLevels, BatchNormApplyGivesTheBaselineBits) {
  const kernels::BatchNormGeometry g{3, 7, kElements / 21};
  const int64_t n = g.batch * g.channels * g.inner;
  const std::vector<float> x = awkward_values(gen_, n);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> mean(7), invstd(7), weight(7), bias(7);
  for (int c = 0; c < 7; ++c) {
    mean[c] = normal(gen_);
    invstd[c] = std::abs(normal(gen_)) + 0.1f;
    weight[c] = normal(gen_);
    bias[c] = normal(gen_);
  }
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "with relu" : "plain");
    expect_same_at_every_level([&] {
      std::vector<float> y(static_cast<size_t>(n));
      cpu::launch(n, kernels::BatchNormApply{g, x.data(), y.data(), mean.data(), invstd.data(),
                                             weight.data(), bias.data(), relu});
      return y;
    });
  }
}

TEST_F(SimdLevels, OptimizerStepsGiveTheBaselineBits) {
  const std::vector<float> param = awkward_values(gen_, kElements);
  const std::vector<float> grad = awkward_values(gen_, kElements);
  const std::vector<float> state = awkward_values(gen_, kElements);
  std::vector<float> second_moment = awkward_values(gen_, kElements);
  for (float& v : second_moment) v = std::abs(v);
  std::vector<uint8_t> group(static_cast<size_t>(kElements));
  for (size_t i = 0; i < group.size(); ++i) group[i] = static_cast<uint8_t>(i % 3);
  const float lr[kernels::kMaxParamGroups] = {0.1f, 0.05f, 0.2f, 0.0f};
  for (bool nesterov : {false, true}) {
    SCOPED_TRACE(nesterov ? "sgd nesterov" : "sgd");
    expect_same_at_every_level([&] {
      std::vector<float> p = param, buf = state;
      cpu::launch(kElements, kernels::SgdStep{p.data(), grad.data(), buf.data(), lr, 0.9f, 1.0f,
                                              {5e-4f, 0.0f, 1e-2f, 0.0f}, group.data(), nesterov,
                                              false, nullptr});
      p.insert(p.end(), buf.begin(), buf.end());
      return p;
    });
  }
  const kernels::AdamScalars scalars{{1e-3f, 2e-3f, 5e-4f, 0.0f}, 0.3f, {0.999f, 1.0f, 0.99f, 1.0f}};
  for (bool decoupled : {false, true}) {
    SCOPED_TRACE(decoupled ? "adamw" : "adam");
    expect_same_at_every_level([&] {
      std::vector<float> p = param, m = state, v = second_moment;
      cpu::launch(kElements, kernels::AdamStep{p.data(), grad.data(), m.data(), v.data(), 0.1f,
                                               0.999f, 0.001f, 1e-8f, {1e-2f, 0.0f, 5e-2f, 0.0f},
                                               group.data(), decoupled, &scalars, nullptr});
      p.insert(p.end(), m.begin(), m.end());
      p.insert(p.end(), v.begin(), v.end());
      return p;
    });
  }
}

// The host loops that run through parallel_for_vectorised: depthwise convolutions (the
// zero-padded stride-1 planes and the general loops) and batch norm's planes.
TEST_F(SimdLevels, DepthwiseConvolutionsGiveTheBaselineBits) {
  struct Case {
    int64_t c, hw, r;
    int stride, pad;
  };
  for (const Case& k : {Case{24, 17, 3, 1, 1}, Case{16, 16, 5, 1, 2}, Case{24, 17, 3, 2, 1},
                        Case{16, 15, 5, 2, 2}}) {
    SCOPED_TRACE(testing::Message() << k.r << "x" << k.r << " stride " << k.stride);
    kernels::Conv2dSpec spec;
    spec.stride_h = spec.stride_w = k.stride;
    spec.pad_h = spec.pad_w = k.pad;
    spec.groups = static_cast<int>(k.c);
    const kernels::Conv2dGeometry g =
        kernels::make_conv2d_geometry(3, k.c, k.hw, k.hw, k.c, k.r, k.r, spec);
    const int64_t in = g.n * g.input_image_size(), out = g.n * g.output_image_size();
    // Finite inputs: a NaN would reach every output of its plane and hide the others.
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto draw = [&](int64_t n) {
      std::vector<float> v(static_cast<size_t>(n));
      for (float& x : v) x = normal(gen_);
      return v;
    };
    const std::vector<float> x = draw(in), w = draw(g.weight_size()), bias = draw(g.k),
                             dy = draw(out);
    expect_same_at_every_level([&] {
      std::vector<float> y(static_cast<size_t>(out)), dx(static_cast<size_t>(in)),
          dw(static_cast<size_t>(g.weight_size()));
      cpu::depthwise_conv2d_forward(g, x.data(), w.data(), bias.data(), y.data());
      cpu::depthwise_conv2d_backward_data(g, dy.data(), w.data(), dx.data());
      cpu::depthwise_conv2d_backward_weight(g, x.data(), dy.data(), dw.data());
      y.insert(y.end(), dx.begin(), dx.end());
      y.insert(y.end(), dw.begin(), dw.end());
      return y;
    });
  }
}

TEST_F(SimdLevels, BatchNormHostLoopsGiveTheBaselineBits) {
  const kernels::BatchNormGeometry g{4, 6, 143};  // 143: vector bodies and scalar tails
  const int64_t n = g.batch * g.channels * g.inner;
  std::normal_distribution<float> normal(0.5f, 2.0f);
  std::vector<float> x(static_cast<size_t>(n)), dy(static_cast<size_t>(n)), weight(6), bias(6);
  for (float& v : x) v = normal(gen_);
  for (float& v : dy) v = normal(gen_);
  for (float& v : weight) v = normal(gen_);
  for (float& v : bias) v = normal(gen_);
  expect_same_at_every_level([&] {
    std::vector<float> mean(6), invstd(6), running_mean(6, 0.1f), running_var(6, 0.9f);
    cpu::batch_norm_stats(g, x.data(),
                          kernels::BatchNormStatsOut{mean.data(), invstd.data(),
                                                     running_mean.data(), running_var.data(),
                                                     nullptr, 0.1, 1e-5});
    std::vector<float> y(static_cast<size_t>(n)), y_relu(static_cast<size_t>(n));
    cpu::batch_norm_apply(kernels::BatchNormApply{g, x.data(), y.data(), mean.data(),
                                                  invstd.data(), weight.data(), bias.data()});
    cpu::batch_norm_apply(kernels::BatchNormApply{g, x.data(), y_relu.data(), mean.data(),
                                                  invstd.data(), weight.data(), bias.data(),
                                                  true});
    std::vector<float> dweight(6), dbias(6), coefficients(12), dx(static_cast<size_t>(n));
    cpu::batch_norm_backward_reduce(
        g, x.data(), dy.data(),
        kernels::BatchNormBackwardOut{mean.data(), invstd.data(), dweight.data(), dbias.data(),
                                      coefficients.data()});
    cpu::batch_norm_backward_input(kernels::BatchNormBackwardInput{
        g, x.data(), dy.data(), dx.data(), mean.data(), invstd.data(), weight.data(),
        coefficients.data()});
    std::vector<float> all;
    for (const std::vector<float>* v : {&mean, &invstd, &running_mean, &running_var, &y, &y_relu,
                                        &dweight, &dbias, &coefficients, &dx})
      all.insert(all.end(), v->begin(), v->end());
    return all;
  });
}

TEST(SimdLevelNames, ParseAndName) {
  for (SimdLevel level : {SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512})
    EXPECT_EQ(cpu::parse_simd_level(cpu::simd_level_name(level)), level);
  EXPECT_FALSE(cpu::parse_simd_level("sse9").has_value());
  EXPECT_FALSE(cpu::parse_simd_level("").has_value());
}

TEST(SimdLevelNames, SetLowersToWhatTheCpuHas) {
  const SimdLevel before = cpu::simd_level();
  EXPECT_EQ(cpu::set_simd_level(SimdLevel::Avx512), cpu::simd_level_supported());
  EXPECT_EQ(cpu::simd_level(), cpu::simd_level_supported());
  EXPECT_EQ(cpu::set_simd_level(SimdLevel::Baseline), SimdLevel::Baseline);
  cpu::set_simd_level(before);
}

}  // namespace
}  // namespace kestrel
