// kernels::erfc_f32 and exp_neg_square against double precision: erfc within 6e-7 relative
// over [-10, 9] (its result is a normal f32 there; Numerical Recipes' fit promises 1.2e-7
// before f32 rounding, and near z = 0 the f32 Horner sum of its alternating coefficients adds
// up to ~4.5e-7, about 5 ulp of a result near 1), e^(-a^2) within 4 ulp where a^2 alone would round by 2e-6, the limits,
// NaN kept.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/common/erfc.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

double relative_error(float got, double want) {
  return std::fabs(static_cast<double>(got) - want) / std::fabs(want);
}

TEST(ErfcF32, WithinSixTenthsOfAMillionthAcrossItsRange) {
  double worst = 0.0;
  float at = 0.0f;
  for (float z = -10.0f; z < 9.0f; z += 0.000731f) {
    const double e = relative_error(kernels::erfc_f32(z), std::erfc(static_cast<double>(z)));
    if (e > worst) worst = e, at = z;
  }
  EXPECT_LE(worst, 6e-7) << "worst at z = " << at;
  std::mt19937_64 gen(test::test_seed());
  std::uniform_real_distribution<float> tiny(-1e-3f, 1e-3f);
  for (int i = 0; i < 10000; ++i) {
    const float z = tiny(gen);
    ASSERT_LE(relative_error(kernels::erfc_f32(z), std::erfc(static_cast<double>(z))), 6e-7);
  }
}

TEST(ErfcF32, LimitsAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(kernels::erfc_f32(0.0f), 1.0f);
  EXPECT_EQ(kernels::erfc_f32(-inf), 2.0f);
  EXPECT_EQ(kernels::erfc_f32(-30.0f), 2.0f);
  EXPECT_EQ(kernels::erfc_f32(inf), 0.0f);
  EXPECT_EQ(kernels::erfc_f32(30.0f), 0.0f);
  EXPECT_TRUE(std::isnan(kernels::erfc_f32(std::numeric_limits<float>::quiet_NaN())));
}

TEST(ExpNegSquare, AccurateWhereTheSquareWouldRound) {
  std::mt19937_64 gen(test::test_seed() + 1);
  std::uniform_real_distribution<float> a_of(0.0f, 9.3f);
  for (int i = 0; i < 100000; ++i) {
    const float a = a_of(gen);
    const double want = std::exp(-static_cast<double>(a) * a);
    if (want < std::numeric_limits<float>::min()) continue;
    ASSERT_LE(relative_error(kernels::exp_neg_square(a), want), 5e-7) << "a = " << a;
  }
  EXPECT_EQ(kernels::exp_neg_square(0.0f), 1.0f);
  EXPECT_EQ(kernels::exp_neg_square(11.0f), 0.0f);
  EXPECT_TRUE(std::isnan(kernels::exp_neg_square(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace kestrel
