// kernels::exp_f32 against e^x in double precision over its whole range: within 2 ulp where the
// result is a normal f32 (Cephes states about 1), within one subnormal step below that, 0 from
// -104 down, +inf from 88.73 up, NaN kept; and no further from libm's expf than that.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <limits>
#include <random>

#include "kernels/common/exp.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// |a - b| in units of the last place of b's f32 neighbourhood (b a double near a's value).
double ulps(float a, double b) {
  const float fb = static_cast<float>(b);
  const double step = std::nextafter(std::fabs(fb), std::numeric_limits<float>::infinity()) -
                      static_cast<double>(std::fabs(fb));
  return std::fabs(static_cast<double>(a) - b) / step;
}

TEST(ExpF32, WithinTwoUlpOfDoubleAcrossTheNormalRange) {
  double worst = 0.0;
  float at = 0.0f;
  // Every 997th f32 bit pattern of |x| below 88.7 (the largest finite result), each with both
  // signs while -x stays above -87.3 (the smallest normal result): 2.2 million arguments.
  for (uint32_t b = 0; b < kernels::bits_of(88.7f); b += 997) {
    const float m = kernels::float_from_bits(b);
    for (const float x : {m, -m}) {
      if (x < -87.3f) continue;
      const double u = ulps(kernels::exp_f32(x), std::exp(static_cast<double>(x)));
      if (u > worst) worst = u, at = x;
    }
  }
  EXPECT_LE(worst, 2.0) << "worst at x = " << at;
}

TEST(ExpF32, RandomArgumentsNearZeroAndTheReductionsEdges) {
  std::mt19937_64 gen(test::test_seed());
  std::uniform_real_distribution<float> small(-0.4f, 0.4f), wide(-80.0f, 80.0f);
  for (int i = 0; i < 200000; ++i) {
    const float x = i % 2 ? small(gen) : wide(gen);
    ASSERT_LE(ulps(kernels::exp_f32(x), std::exp(static_cast<double>(x))), 2.0) << "x = " << x;
  }
  for (const float x : {0.0f, -0.0f, 0.34657359f, -0.34657359f, 1.0f, -1.0f, 0.5f, 20.5f}) {
    EXPECT_LE(ulps(kernels::exp_f32(x), std::exp(static_cast<double>(x))), 2.0) << "x = " << x;
  }
  EXPECT_EQ(kernels::exp_f32(0.0f), 1.0f);
}

TEST(ExpF32, SubnormalResultsRoundOnce) {
  const double tiny = std::numeric_limits<float>::denorm_min();
  for (float x = -103.9f; x < -87.3f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_LE(std::fabs(static_cast<double>(kernels::exp_f32(x)) - want),
              std::max(tiny, 2.5e-7 * want))
        << "x = " << x;
  }
}

TEST(ExpF32, LimitsAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(kernels::exp_f32(-104.5f), 0.0f);
  EXPECT_EQ(kernels::exp_f32(-1e30f), 0.0f);
  EXPECT_EQ(kernels::exp_f32(-inf), 0.0f);
  EXPECT_EQ(kernels::exp_f32(88.8f), inf);
  EXPECT_EQ(kernels::exp_f32(1e30f), inf);
  EXPECT_EQ(kernels::exp_f32(inf), inf);
  EXPECT_TRUE(std::isnan(kernels::exp_f32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_GT(kernels::exp_f32(88.72f), 3.39e38f);  // e^88.72 = 3.3932e38 stays finite
  EXPECT_LT(kernels::exp_f32(88.72f), inf);
}

TEST(ExpF32, AgreesWithLibmWithinTwoUlp) {
  std::mt19937_64 gen(test::test_seed() + 1);
  std::uniform_real_distribution<float> wide(-87.0f, 88.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = wide(gen);
    ASSERT_LE(ulps(kernels::exp_f32(x), static_cast<double>(::expf(x))), 2.0) << "x = " << x;
  }
}

}  // namespace
}  // namespace kestrel
