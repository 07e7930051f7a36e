// The cuDNN algorithm cache: keys separate every problem that may need another algorithm, and
// the cache returns what was stored. No GPU needed.
#include "kernels/cuda/conv_algo_cache.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

namespace kestrel::cuda {
namespace {

ConvAlgoKey base_key() {
  ConvAlgoKey k;
  k.device = 0;
  k.direction = ConvDirection::Forward;
  kernels::Conv2dSpec spec;
  spec.pad_h = spec.pad_w = 1;
  k.geometry = kernels::make_conv2d_geometry(128, 3, 32, 32, 64, 3, 3, spec);
  return k;
}

TEST(ConvAlgoKey, EveryFieldSeparatesKeys) {
  const ConvAlgoKey a = base_key();
  std::vector<ConvAlgoKey> variants(19, a);
  variants[0].device = 1;
  variants[1].direction = ConvDirection::BackwardData;
  variants[2].direction = ConvDirection::BackwardFilter;
  variants[3].geometry.n = 64;
  variants[4].geometry.c = 4;
  variants[5].geometry.h = 31;
  variants[6].geometry.w = 33;
  variants[7].geometry.k = 32;
  variants[8].geometry.r = 5;
  variants[9].geometry.s = 1;
  variants[10].geometry.stride_h = 2;
  variants[11].geometry.pad_w = 0;
  variants[12].geometry.dilation_h = 2;
  variants[13].geometry.groups = 3;
  variants[14].tf32 = true;
  variants[15].deterministic = true;
  variants[16].geometry.oh = 16;
  variants[17].bf16 = true;
  variants[18].bf16 = variants[18].channels_last = true;
  std::unordered_set<ConvAlgoKey, ConvAlgoKeyHash> set{a};
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_FALSE(variants[i] == a) << "variant " << i << " compares equal to the base key";
    EXPECT_TRUE(set.insert(variants[i]).second) << "variant " << i << " collides in the set";
  }
  EXPECT_EQ(set.size(), variants.size() + 1);
}

TEST(ConvAlgoKey, EqualKeysHashEqual) {
  const ConvAlgoKey a = base_key(), b = base_key();
  EXPECT_TRUE(a == b);
  EXPECT_EQ(ConvAlgoKeyHash{}(a), ConvAlgoKeyHash{}(b));
}

TEST(ConvAlgoCache, ReturnsWhatWasStoredPerKey) {
  ConvAlgoCache cache;
  ConvAlgoKey fwd = base_key(), bwd = base_key();
  bwd.direction = ConvDirection::BackwardFilter;
  EXPECT_FALSE(cache.find(fwd).has_value());
  cache.insert(fwd, ConvAlgoChoice{6, 1 << 20, 0.25f});
  cache.insert(bwd, ConvAlgoChoice{1, 4096, 0.5f});
  ASSERT_TRUE(cache.find(fwd).has_value());
  EXPECT_EQ(cache.find(fwd)->algorithm, 6);
  EXPECT_EQ(cache.find(fwd)->workspace_bytes, size_t{1} << 20);
  EXPECT_EQ(cache.find(bwd)->algorithm, 1);
  EXPECT_EQ(cache.size(), 2u);
  cache.insert(fwd, ConvAlgoChoice{2, 0, 0.1f});  // a re-tune replaces the entry
  EXPECT_EQ(cache.find(fwd)->algorithm, 2);
  EXPECT_EQ(cache.size(), 2u);
  cache.clear();
  EXPECT_FALSE(cache.find(bwd).has_value());
}

}  // namespace
}  // namespace kestrel::cuda
