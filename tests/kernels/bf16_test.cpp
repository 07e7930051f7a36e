// bf16 rounding and packing (kernels/common/bf16.hpp) against oracles written here: the
// nearest of a float's two bf16 neighbours worked out in double, ties to the even one; the
// channels-last index written as nested loops over n, p, c.
#include "kernels/common/bf16.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// The value of a bf16 bit pattern in double; the pattern one past the largest finite bf16
// (infinity) stands for 2^128, where the next bf16 would be without the exponent limit.
double bf16_value(uint32_t b16) {
  if ((b16 & 0x7fffu) == 0x7f80u)
    return std::copysign(std::ldexp(1.0, 128), b16 & 0x8000u ? -1 : 1);
  return static_cast<double>(float_of(b16 << 16));
}

// Round to nearest, ties to even, for a finite float: pick between the truncation and the next
// bf16 away from zero by the distance in double.
uint16_t nearest_bf16(float f) {
  const uint32_t truncated = bits_of(f) >> 16;
  const uint32_t next = truncated + 1;  // one bf16 step further from zero (same sign)
  const double x = static_cast<double>(f);
  const double below = std::fabs(x - bf16_value(truncated));
  const double above = std::fabs(bf16_value(next) - x);
  if (below < above) return static_cast<uint16_t>(truncated);
  if (above < below) return static_cast<uint16_t>(next);
  return static_cast<uint16_t>((truncated & 1u) == 0 ? truncated : next);
}

TEST(Bf16, RandomFiniteFloatsRoundToTheNearestTiesToEven) {
  std::mt19937_64 gen(test::test_seed());
  std::uniform_int_distribution<uint32_t> any_bits;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = any_bits(gen);
    if (i % 4 == 0) u = (u & 0xffff0000u) | 0x8000u;  // force exact ties too
    const float f = float_of(u);
    if (!std::isfinite(f)) continue;
    ASSERT_EQ(kernels::bf16_from_float(f), nearest_bf16(f)) << "bits 0x" << std::hex << u;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
}

TEST(Bf16, SpecialValues) {
  using kernels::bf16_from_float;
  EXPECT_EQ(bf16_from_float(1.0f), 0x3f80);
  EXPECT_EQ(bf16_from_float(-0.0f), 0x8000);
  EXPECT_EQ(bf16_from_float(1.0f + 0x1p-8f), 0x3f80);      // tie: stays on even 1.0
  EXPECT_EQ(bf16_from_float(1.0f + 3 * 0x1p-8f), 0x3f82);  // tie: up to the even one
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(bf16_from_float(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::max()), 0x7f80);  // overflows
  EXPECT_EQ(bf16_from_float(float_of(0x7f7f7fffu)), 0x7f7f);  // largest bf16 stays finite
  EXPECT_EQ(bf16_from_float(float_of(0x00000001u)), 0x0000);  // smallest subnormal: to zero
  EXPECT_EQ(bf16_from_float(float_of(0x00018000u)), 0x0002);  // subnormal tie: to even
  // NaN stays NaN, even one whose payload lies only in the bits that are dropped.
  for (uint32_t nan : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu}) {
    const float back = kernels::float_from_bf16(bf16_from_float(float_of(nan)));
    EXPECT_TRUE(std::isnan(back)) << std::hex << nan;
    EXPECT_EQ(std::signbit(back), (nan >> 31) != 0);
  }
}

TEST(Bf16, RoundingIsIdempotentAndExactlyRepresentable) {
  std::mt19937_64 gen(test::test_seed() + 1);
  std::normal_distribution<float> normal(0.0f, 100.0f);
  for (int i = 0; i < 10000; ++i) {
    const float f = normal(gen);
    const float r = kernels::round_to_bf16(f);
    EXPECT_EQ(bits_of(r) & 0xffffu, 0u);
    EXPECT_EQ(kernels::round_to_bf16(r), r);
    EXPECT_LE(std::fabs(r - f), std::ldexp(std::fabs(f), -8));  // half of the 2^-7 step
  }
}

// x as [n, channels, plane], laid out channels-last by nested loops.
std::vector<float> channels_last_reference(const std::vector<float>& x, int64_t n, int64_t c,
                                           int64_t p) {
  std::vector<float> y(x.size());
  size_t out = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t q = 0; q < p; ++q)
      for (int64_t ch = 0; ch < c; ++ch) y[out++] = x[static_cast<size_t>((i * c + ch) * p + q)];
  return y;
}

TEST(Bf16, PackAndUnpackInBothLayouts) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const int64_t n = 3, c = 5, p = 7, count = n * c * p;
  const std::vector<float> x = test::random_tensor(Shape{count}, gen, -3.0f, 3.0f).to_vector();
  const std::vector<float> bias = test::random_tensor(Shape{c}, gen).to_vector();
  for (bool channels_last : {false, true}) {
    SCOPED_TRACE(channels_last ? "channels-last" : "same order");
    std::vector<uint16_t> packed(static_cast<size_t>(count), 0xffff);
    cpu::launch(count, kernels::PackBf16{x.data(), packed.data(), c, p, channels_last});
    const std::vector<float> order = channels_last ? channels_last_reference(x, n, c, p) : x;
    for (size_t i = 0; i < packed.size(); ++i)
      ASSERT_EQ(packed[i], nearest_bf16(order[i])) << "element " << i;

    std::vector<float> back(static_cast<size_t>(count), NAN), with_bias(back);
    cpu::launch(count,
                kernels::UnpackBf16{packed.data(), back.data(), nullptr, c, p, channels_last});
    cpu::launch(count, kernels::UnpackBf16{packed.data(), with_bias.data(), bias.data(), c, p,
                                           channels_last});
    for (int64_t i = 0; i < count; ++i) {
      const auto s = static_cast<size_t>(i);
      const float rounded = float_of(static_cast<uint32_t>(nearest_bf16(x[s])) << 16);
      ASSERT_EQ(back[s], rounded) << "element " << i;
      ASSERT_EQ(with_bias[s], rounded + bias[static_cast<size_t>((i / p) % c)]) << "element " << i;
    }
  }
}

TEST(Bf16, RoundToBf16AddsTheBiasAfterRounding) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const int64_t n = 2, c = 4, p = 6, count = n * c * p;
  const std::vector<float> x = test::random_tensor(Shape{count}, gen, -5.0f, 5.0f).to_vector();
  const std::vector<float> bias = test::random_tensor(Shape{c}, gen).to_vector();
  std::vector<float> y(x);
  cpu::launch(count, kernels::RoundToBf16{y.data(), y.data(), bias.data(), c, p});  // in place
  for (int64_t i = 0; i < count; ++i) {
    const auto s = static_cast<size_t>(i);
    const float rounded = float_of(static_cast<uint32_t>(nearest_bf16(x[s])) << 16);
    ASSERT_EQ(y[s], rounded + bias[static_cast<size_t>((i / p) % c)]) << "element " << i;
  }
}

}  // namespace
}  // namespace kestrel
