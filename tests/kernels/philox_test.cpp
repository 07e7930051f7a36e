// Philox4x32-10 against the published known-answer vectors (Random123's kat_vectors), and the
// properties kestrel builds on: words are a pure function of (seed, stream, index).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/common/philox.hpp"

namespace kestrel {
namespace {

struct Kat {
  uint32_t ctr[4];
  uint32_t key[2];
  uint32_t expected[4];
};

TEST(Philox, KnownAnswerVectors) {
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const auto out = rng::philox4x32_10(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], k.expected[i]) << "word " << i;
  }
}

TEST(Philox, ElementWordsComeFromTheirBlock) {
  const uint64_t seed = 0x1234567890abcdefull, stream = 77;
  for (uint64_t i = 0; i < 64; ++i) {
    const auto block = rng::philox_block(seed, stream, i / 4);
    EXPECT_EQ(rng::philox_u32(seed, stream, i), block.v[i % 4]);
  }
  // Seeds and streams separate the sequences.
  EXPECT_NE(rng::philox_u32(seed, stream, 0), rng::philox_u32(seed + 1, stream, 0));
  EXPECT_NE(rng::philox_u32(seed, stream, 0), rng::philox_u32(seed, stream + 1, 0));
}

TEST(Philox, UniformIsInUnitIntervalWithTheRightMoments) {
  const int n = 200000;
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < n; ++i) {
    const float u = rng::uniform(99, 3, static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    sum_sq += static_cast<double>(u) * u;
  }
  const double mean = sum / n, var = sum_sq / n - mean * mean;
  // Mean 1/2 and variance 1/12; bounds are ~6 standard errors.
  EXPECT_NEAR(mean, 0.5, 6.0 * std::sqrt(1.0 / 12.0 / n));
  EXPECT_NEAR(var, 1.0 / 12.0, 0.002);
  EXPECT_EQ(rng::u32_to_unit_float(0xffffffffu), 16777215.0f / 16777216.0f);
}

}  // namespace
}  // namespace kestrel
