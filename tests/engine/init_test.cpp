// Weight initialisation: fans and gains against torch.nn.init's table, bounds and moments of
// the fills within 6-sigma statistical limits, the documented Philox layout of each element,
// reproducibility per (seed, stream) and on any thread count, and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/init/init.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

#define EXPECT_ERROR_CONTAINS(statement, text)                              \
  do {                                                                      \
    const std::string message = error_of([&] { statement; });               \
    EXPECT_NE(message.find(text), std::string::npos) << "got: " << message; \
  } while (0)

struct Moments {
  double mean = 0, mean_sq_dev = 0;  // mean of (x - center)^2 about a known center
  double min = 0, max = 0;
  double fraction_within = 0;        // |x - center| < radius
};

Moments moments(const std::vector<float>& x, double center, double radius) {
  Moments m;
  m.min = m.max = x.empty() ? 0.0 : x[0];
  double sum = 0, sum_sq = 0;
  int64_t within = 0;
  for (float f : x) {
    const double v = f;
    sum += v;
    sum_sq += (v - center) * (v - center);
    m.min = std::min(m.min, v);
    m.max = std::max(m.max, v);
    if (std::abs(v - center) < radius) ++within;
  }
  const double n = static_cast<double>(x.size());
  m.mean = sum / n;
  m.mean_sq_dev = sum_sq / n;
  m.fraction_within = static_cast<double>(within) / n;
  return m;
}

// U(-b, b) (or U(lo, hi)) with n samples: every value inside, the extremes within 1e-3 of the
// ends (missing that has probability below e^-100 for n >= 1e5), mean and variance within 6
// standard errors: var(x) = w^2/12 for width w, var((x - c)^2) = w^4/180 about the centre.
void expect_uniform(const std::vector<float>& x, double lo, double hi) {
  const double n = static_cast<double>(x.size());
  const double width = hi - lo, center = (lo + hi) / 2;
  const Moments m = moments(x, center, 0.0);
  // The bounds reach the fill rounded to f32; u = 0 gives lo itself.
  EXPECT_GE(m.min, static_cast<float>(lo));
  EXPECT_LE(m.max, static_cast<float>(hi));
  if (n >= 1e5) {
    EXPECT_LT(m.min, lo + 1e-3 * width);
    EXPECT_GT(m.max, hi - 1e-3 * width);
  }
  const double var = width * width / 12;
  EXPECT_NEAR(m.mean, center, 6 * std::sqrt(var / n));
  EXPECT_NEAR(m.mean_sq_dev, var, 6 * std::sqrt(std::pow(width, 4) / 180 / n));
}

// N(mean, std^2): sample mean and E[(x - mean)^2] within 6 standard errors (var of the squared
// deviation is 2 std^4), and the fraction within one std 0.682689 within 6 standard errors.
void expect_normal(const std::vector<float>& x, double mean, double stddev) {
  const double n = static_cast<double>(x.size());
  const Moments m = moments(x, mean, stddev);
  const double var = stddev * stddev;
  EXPECT_NEAR(m.mean, mean, 6 * stddev / std::sqrt(n));
  EXPECT_NEAR(m.mean_sq_dev, var, 6 * std::sqrt(2 * var * var / n));
  const double p = std::erf(1.0 / std::sqrt(2.0));  // 0.682689...
  EXPECT_NEAR(m.fraction_within, p, 6 * std::sqrt(p * (1 - p) / n));
  // Box-Muller from 24-bit uniforms cannot go past sqrt(2 ln 2^24) = 5.77 std.
  EXPECT_LE(std::max(m.max - mean, mean - m.min), 5.78 * stddev);
}

uint64_t seed_for(uint64_t offset) { return test::test_seed() * 0x9e3779b97f4a7c15ull + offset; }

// ---- fans and gains -----------------------------------------------------------------------

TEST(InitFans, ConvLinearAndOtherShapes) {
  const init::Fans conv = init::compute_fans(Shape{64, 3, 5, 5});  // [K, C, R, S]
  EXPECT_EQ(conv.fan_in, 3 * 5 * 5);
  EXPECT_EQ(conv.fan_out, 64 * 5 * 5);
  const init::Fans conv_rect = init::compute_fans(Shape{6, 1, 3, 7});
  EXPECT_EQ(conv_rect.fan_in, 21);
  EXPECT_EQ(conv_rect.fan_out, 126);
  const init::Fans linear = init::compute_fans(Shape{10, 84});  // [out, in]
  EXPECT_EQ(linear.fan_in, 84);
  EXPECT_EQ(linear.fan_out, 10);
  const init::Fans conv1d = init::compute_fans(Shape{4, 6, 7});
  EXPECT_EQ(conv1d.fan_in, 42);
  EXPECT_EQ(conv1d.fan_out, 28);
  const init::Fans conv3d = init::compute_fans(Shape{2, 3, 4, 5, 6});
  EXPECT_EQ(conv3d.fan_in, 3 * 120);
  EXPECT_EQ(conv3d.fan_out, 2 * 120);
}

TEST(InitFans, FewerThanTwoDimensionsIsAnError) {
  EXPECT_ERROR_CONTAINS(init::compute_fans(Shape{5}),
                        "compute_fans: fan in and fan out can not be computed for a tensor with "
                        "fewer than 2 dimensions (shape [5])");
  EXPECT_ERROR_CONTAINS(init::compute_fans(Shape{}), "fewer than 2 dimensions (shape [])");
}

TEST(InitGain, MatchesTorchTable) {
  for (const char* name : {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                           "conv_transpose2d", "conv_transpose3d", "sigmoid"})
    EXPECT_EQ(init::calculate_gain(name), 1.0f) << name;
  EXPECT_FLOAT_EQ(init::calculate_gain("tanh"), 5.0f / 3.0f);
  EXPECT_FLOAT_EQ(init::calculate_gain("relu"), std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(init::calculate_gain("selu"), 0.75f);
  // leaky_relu: torch's default slope is 0.01 when none is given.
  EXPECT_FLOAT_EQ(init::calculate_gain("leaky_relu"), static_cast<float>(std::sqrt(2.0 / 1.0001)));
  EXPECT_FLOAT_EQ(init::calculate_gain("leaky_relu", 0.0f), std::sqrt(2.0f));
  EXPECT_FLOAT_EQ(init::calculate_gain("leaky_relu", 0.2f), static_cast<float>(std::sqrt(2.0 / 1.04)));
  // a = sqrt(5), nn.Linear's default, gives sqrt(1/3).
  EXPECT_FLOAT_EQ(init::calculate_gain("leaky_relu", std::sqrt(5.0f)), std::sqrt(1.0f / 3.0f));
  EXPECT_ERROR_CONTAINS(init::calculate_gain("gelu"),
                        "calculate_gain: unsupported nonlinearity 'gelu'");
}

// The activations torch.nn.init.calculate_gain has no gain for take relu's in the Kaiming
// schemes (torchvision's EfficientNet, MobileNetV2 and V3 use kaiming_normal_ with its default
// leaky_relu, a = 0: sqrt(2)); torch's own names pass through, and calculate_gain itself still
// refuses the others, as torch does.
TEST(InitGain, ActivationsWithoutATorchGainTakeRelus) {
  for (const char* name : {"silu", "gelu", "hardswish", "relu6"}) {
    EXPECT_EQ(init::gain_name(name), "relu") << name;
    EXPECT_FLOAT_EQ(init::calculate_gain(init::gain_name(name)), std::sqrt(2.0f)) << name;
  }
  for (const char* name : {"relu", "tanh", "sigmoid", "linear", "selu", "swish"})
    EXPECT_EQ(init::gain_name(name), name) << name;
  EXPECT_ERROR_CONTAINS(init::calculate_gain("silu"),
                        "calculate_gain: unsupported nonlinearity 'silu'");
  Context ctx;
  Tensor w = Tensor::empty(Shape{64, 48});
  Tensor b = Tensor::empty(Shape{64});
  init::initialize(ctx, init::InitScheme::KaimingUniform, w, &b, seed_for(40), 0, "hardswish");
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 48.0);
  expect_uniform(w.to_vector(), -bound, bound);
}

// ---- uniform and normal fills -------------------------------------------------------------

TEST(InitUniform, BoundsAndMoments) {
  Context ctx;
  Tensor t = Tensor::empty(Shape{200003});
  init::uniform(ctx, t, -0.75f, 0.25f, seed_for(1), 3);
  expect_uniform(t.to_vector(), -0.75, 0.25);
}

// Element i is lo + (hi - lo) * u with u the top 24 bits of Philox word i, up to f32 rounding.
TEST(InitUniform, ElementIsPhiloxWordI) {
  Context ctx;
  const uint64_t seed = seed_for(2), stream = 11;
  Tensor t = Tensor::empty(Shape{1001});
  init::uniform(ctx, t, -2.0f, 3.0f, seed, stream);
  const auto v = t.to_vector();
  for (uint64_t i = 0; i < v.size(); ++i) {
    const double u = static_cast<double>(rng::philox_u32(seed, stream, i) >> 8) / 16777216.0;
    ASSERT_NEAR(v[i], -2.0 + 5.0 * u, 5e-7) << "element " << i;
  }
}

TEST(InitNormal, MomentsAndOneSigmaFraction) {
  Context ctx;
  Tensor t = Tensor::empty(Shape{200001});
  init::normal(ctx, t, 0.5f, 2.0f, seed_for(3), 0);
  expect_normal(t.to_vector(), 0.5, 2.0);
}

// Element i is Box-Muller of Philox words 2i and 2i+1 (computed here in double).
// f32 logf/cosf and the rounding of the angle leave a few ulps.
TEST(InitNormal, ElementIsBoxMullerOfWords2iAnd2iPlus1) {
  Context ctx;
  const uint64_t seed = seed_for(4), stream = 5;
  Tensor t = Tensor::empty(Shape{999});
  init::normal(ctx, t, 0.0f, 1.0f, seed, stream);
  const auto v = t.to_vector();
  for (uint64_t i = 0; i < v.size(); ++i) {
    const double u1 = (static_cast<double>(rng::philox_u32(seed, stream, 2 * i) >> 8) + 1.0) /
                      16777216.0;
    const double u2 = static_cast<double>(rng::philox_u32(seed, stream, 2 * i + 1) >> 8) /
                      16777216.0;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double z = radius * std::cos(2.0 * kPi * u2);
    // f32 rounds the angle 2 pi u2 by up to ~4e-7, which the radius (<= 5.77) scales.
    ASSERT_NEAR(v[i], z, 1e-6 + 1e-6 * radius) << "element " << i;
  }
}

TEST(InitFill, SameSeedAndStreamGiveIdenticalBits) {
  Context ctx;
  const uint64_t seed = seed_for(5);
  for (bool normal : {false, true}) {
    Tensor a = Tensor::empty(Shape{4097}), b = Tensor::empty(Shape{4097});
    Tensor other_stream = Tensor::empty(Shape{4097}), other_seed = Tensor::empty(Shape{4097});
    const auto fill = [&](Tensor& t, uint64_t s, uint64_t stream) {
      if (normal) {
        init::normal(ctx, t, 0.0f, 1.0f, s, stream);
      } else {
        init::uniform(ctx, t, -1.0f, 1.0f, s, stream);
      }
    };
    fill(a, seed, 7);
    fill(b, seed, 7);
    fill(other_stream, seed, 8);
    fill(other_seed, seed + 1, 7);
    const auto va = a.to_vector(), vb = b.to_vector();
    EXPECT_EQ(std::memcmp(va.data(), vb.data(), va.size() * 4), 0) << "normal " << normal;
    // Independent draws coincide with probability about 2^-24 per element.
    const auto count_equal = [&](const Tensor& t) {
      const auto vt = t.to_vector();
      int64_t same = 0;
      for (size_t i = 0; i < va.size(); ++i) same += va[i] == vt[i];
      return same;
    };
    EXPECT_LE(count_equal(other_stream), 2) << "normal " << normal;
    EXPECT_LE(count_equal(other_seed), 2) << "normal " << normal;
  }
}

TEST(InitFill, OneAndTwoThreadsGiveIdenticalBits) {
  Context ctx;
  const uint64_t seed = seed_for(6);
  std::vector<float> uniform_runs[2], normal_runs[2];
  for (int threads = 1; threads <= 2; ++threads) {
    cpu::set_num_threads(threads);
    Tensor u = Tensor::empty(Shape{100003}), n = Tensor::empty(Shape{100003});
    init::uniform(ctx, u, -1.0f, 1.0f, seed, 1);
    init::normal(ctx, n, 0.0f, 1.0f, seed, 2);
    uniform_runs[threads - 1] = u.to_vector();
    normal_runs[threads - 1] = n.to_vector();
  }
  cpu::set_num_threads(0);
  EXPECT_EQ(std::memcmp(uniform_runs[0].data(), uniform_runs[1].data(), 100003 * 4), 0);
  EXPECT_EQ(std::memcmp(normal_runs[0].data(), normal_runs[1].data(), 100003 * 4), 0);
}

// ---- Kaiming and Xavier -------------------------------------------------------------------

TEST(InitKaiming, UniformBoundIsGainTimesSqrt3OverFan) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{256, 128, 3, 3});  // fan_in 1152, fan_out 2304
  init::kaiming_uniform(ctx, w, 0.0f, "fan_in", "relu", seed_for(7), 0);
  expect_uniform(w.to_vector(), -std::sqrt(2.0) * std::sqrt(3.0 / 1152),
                 std::sqrt(2.0) * std::sqrt(3.0 / 1152));
  // fan_out and leaky_relu with slope a = 0.1.
  init::kaiming_uniform(ctx, w, 0.1f, "fan_out", "leaky_relu", seed_for(8), 0);
  const double gain = std::sqrt(2.0 / (1.0 + 0.1 * 0.1));
  expect_uniform(w.to_vector(), -gain * std::sqrt(3.0 / 2304), gain * std::sqrt(3.0 / 2304));
}

TEST(InitKaiming, NormalStdIsGainOverSqrtFan) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{400, 500});  // linear: fan_in 500, fan_out 400
  init::kaiming_normal(ctx, w, 0.0f, "fan_in", "relu", seed_for(9), 0);
  expect_normal(w.to_vector(), 0.0, std::sqrt(2.0) / std::sqrt(500.0));
  init::kaiming_normal(ctx, w, 0.0f, "fan_out", "tanh", seed_for(10), 0);
  expect_normal(w.to_vector(), 0.0, (5.0 / 3.0) / std::sqrt(400.0));
}

TEST(InitXavier, UniformBoundAndNormalStd) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{120, 400, 5, 5});  // fan_in 10000, fan_out 3000
  init::xavier_uniform(ctx, w, 1.0f, seed_for(11), 0);
  const double b = std::sqrt(6.0 / 13000.0);
  expect_uniform(w.to_vector(), -b, b);
  init::xavier_normal(ctx, w, 2.0f, seed_for(12), 0);
  expect_normal(w.to_vector(), 0.0, 2.0 * std::sqrt(2.0 / 13000.0));
}

TEST(InitKaiming, RejectsUnknownMode) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{4, 4});
  EXPECT_ERROR_CONTAINS(init::kaiming_uniform(ctx, w, 0.0f, "fan_avg", "relu", 1, 0),
                        "kaiming_uniform: mode 'fan_avg' not supported, please use one of "
                        "fan_in, fan_out");
  EXPECT_ERROR_CONTAINS(init::kaiming_normal(ctx, w, 0.0f, "fan_in", "swish", 1, 0),
                        "calculate_gain: unsupported nonlinearity 'swish'");
  Tensor bias_like = Tensor::empty(Shape{4});
  EXPECT_ERROR_CONTAINS(init::xavier_uniform(ctx, bias_like, 1.0f, 1, 0),
                        "fewer than 2 dimensions (shape [4])");
}

// ---- nn.Linear / nn.Conv2d default --------------------------------------------------------

TEST(InitPyTorchDefault, WeightAndBiasBoundIsOneOverSqrtFanIn) {
  Context ctx;
  const uint64_t seed = seed_for(13), stream = 4;
  Tensor w = Tensor::empty(Shape{100, 64, 5, 5});  // fan_in 1600
  Tensor bias = Tensor::empty(Shape{100});
  init::pytorch_default_weight_and_bias(ctx, w, &bias, seed, stream);
  const double b = 1.0 / std::sqrt(1600.0);
  expect_uniform(w.to_vector(), -b, b);
  for (float x : bias.to_vector()) {
    EXPECT_GE(x, -static_cast<float>(b));
    EXPECT_LE(x, static_cast<float>(b));
  }
  // The bias draws from bias_stream(stream), the weight from `stream` itself.
  Tensor expected_bias = Tensor::empty(Shape{100}), expected_w = Tensor::empty(w.shape());
  init::uniform(ctx, expected_bias, static_cast<float>(-b), static_cast<float>(b), seed,
                init::bias_stream(stream));
  init::uniform(ctx, expected_w, static_cast<float>(-b), static_cast<float>(b), seed, stream);
  EXPECT_EQ(bias.to_vector(), expected_bias.to_vector());
  EXPECT_EQ(w.to_vector(), expected_w.to_vector());
  EXPECT_NE(init::bias_stream(stream), stream + 1);
  EXPECT_NE(init::bias_stream(stream), stream);
}

TEST(InitPyTorchDefault, LinearWithoutBias) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{500, 300});
  init::pytorch_default_weight_and_bias(ctx, w, nullptr, seed_for(14), 0);
  const double b = 1.0 / std::sqrt(300.0);
  expect_uniform(w.to_vector(), -b, b);
}

TEST(InitPyTorchDefault, RejectsMismatchedBias) {
  Context ctx;
  Tensor w = Tensor::empty(Shape{4, 5});
  Tensor bias = Tensor::empty(Shape{5});
  EXPECT_ERROR_CONTAINS(init::pytorch_default_weight_and_bias(ctx, w, &bias, 1, 0),
                        "pytorch_default_weight_and_bias: bias has shape [5], expected [4] for "
                        "weight f32[4, 5] on cpu");
}

// ---- schemes ------------------------------------------------------------------------------

TEST(InitScheme, ParsesEveryNameAndRejectsOthers) {
  using init::InitScheme;
  const std::pair<const char*, InitScheme> names[] = {
      {"pytorch", InitScheme::PyTorchDefault},
      {"xavier-uniform", InitScheme::XavierUniform},
      {"xavier-normal", InitScheme::XavierNormal},
      {"kaiming-uniform", InitScheme::KaimingUniform},
      {"kaiming-normal", InitScheme::KaimingNormal}};
  for (const auto& [name, scheme] : names) {
    EXPECT_EQ(init::parse_init_scheme(name), scheme) << name;
    EXPECT_EQ(init::init_scheme_name(scheme), name);
  }
  EXPECT_ERROR_CONTAINS(init::parse_init_scheme("he"),
                        "unknown init scheme 'he' (expected pytorch, xavier-uniform, "
                        "xavier-normal, kaiming-uniform or kaiming-normal)");
  EXPECT_ERROR_CONTAINS(init::parse_init_scheme("Xavier-Uniform"), "unknown init scheme");
}

TEST(InitScheme, InitializeAppliesTheSchemeAndZeroesTheBias) {
  Context ctx;
  const uint64_t seed = seed_for(15);
  Tensor w = Tensor::empty(Shape{64, 32, 3, 3}), bias = Tensor::empty(Shape{64});
  Tensor expected = Tensor::empty(w.shape());

  init::initialize(ctx, init::InitScheme::KaimingNormal, w, &bias, seed, 9);
  init::kaiming_normal(ctx, expected, 0.0f, "fan_in", "relu", seed, 9);
  EXPECT_EQ(w.to_vector(), expected.to_vector());
  for (float x : bias.to_vector()) EXPECT_EQ(x, 0.0f);

  init::initialize(ctx, init::InitScheme::XavierUniform, w, &bias, seed, 9);
  init::xavier_uniform(ctx, expected, 1.0f, seed, 9);
  EXPECT_EQ(w.to_vector(), expected.to_vector());

  Tensor expected_bias = Tensor::empty(Shape{64});
  init::initialize(ctx, init::InitScheme::PyTorchDefault, w, &bias, seed, 9);
  init::pytorch_default_weight_and_bias(ctx, expected, &expected_bias, seed, 9);
  EXPECT_EQ(w.to_vector(), expected.to_vector());
  EXPECT_EQ(bias.to_vector(), expected_bias.to_vector());
}

// ---- argument errors ----------------------------------------------------------------------

TEST(InitFill, RejectsBadArguments) {
  Context ctx;
  Tensor t = Tensor::empty(Shape{3});
  EXPECT_ERROR_CONTAINS(init::uniform(ctx, t, 1.0f, -1.0f, 1, 0),
                        "uniform: invalid range [1, -1] (need finite lo <= hi)");
  EXPECT_ERROR_CONTAINS(init::normal(ctx, t, 0.0f, -1.0f, 1, 0),
                        "normal: invalid mean 0 or std -1 (need finite values, std >= 0)");
  Tensor labels = Tensor::zeros(Shape{3}, DType::I32);
  EXPECT_ERROR_CONTAINS(init::uniform(ctx, labels, 0.0f, 1.0f, 1, 0),
                        "uniform: tensor must be f32, got i32[3] on cpu");
  Tensor undefined;
  EXPECT_ERROR_CONTAINS(init::constant(ctx, undefined, 1.0f), "constant: tensor is undefined");
}

TEST(InitFill, ConstantAndEmptyTensors) {
  Context ctx;
  Tensor t = Tensor::empty(Shape{2, 3});
  init::constant(ctx, t, 0.25f);
  for (float x : t.to_vector()) EXPECT_EQ(x, 0.25f);
  Tensor empty = Tensor::empty(Shape{0, 5});  // torch: a no-op, not an error
  init::kaiming_uniform(ctx, empty, 0.0f, "fan_in", "relu", 1, 0);
  init::xavier_normal(ctx, empty, 1.0f, 1, 0);
  EXPECT_EQ(empty.numel(), 0);
}

}  // namespace
}  // namespace kestrel
