// Epoch permutations against the documented rule (rank by Philox key, ties by index) computed
// here by counting, their uniformity, and the data-parallel shards' exact cover.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "engine/data/sampler.hpp"
#include "kernels/common/data_streams.hpp"
#include "kernels/common/philox.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

bool is_permutation_of_range(std::vector<int32_t> v) {
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<int32_t>(i)) return false;
  return true;
}

// Position of sample i = how many samples have a smaller (key, index): no sort involved.
std::vector<int32_t> permutation_reference(int64_t n, uint64_t seed, int64_t epoch) {
  const uint64_t stream = rng::data_stream(rng::DataPurpose::Shuffle, epoch);
  std::vector<uint64_t> key(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto w = rng::philox_block(seed, stream, static_cast<uint64_t>(i));
    key[static_cast<size_t>(i)] = static_cast<uint64_t>(w.v[0]) * 4294967296ull + w.v[1];
  }
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t position = 0;
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t ki = key[static_cast<size_t>(i)], kj = key[static_cast<size_t>(j)];
      position += (kj < ki || (kj == ki && j < i)) ? 1 : 0;
    }
    order[static_cast<size_t>(position)] = static_cast<int32_t>(i);
  }
  return order;
}

TEST(EpochPermutation, MatchesTheDocumentedRule) {
  std::mt19937_64 gen(test::test_seed());
  for (int64_t n : {1, 2, 7, 100, 333}) {
    const uint64_t seed = gen();
    const int64_t epoch = static_cast<int64_t>(gen() % 1000);
    EXPECT_EQ(data::epoch_permutation(n, seed, epoch), permutation_reference(n, seed, epoch))
        << "n " << n << " seed " << seed << " epoch " << epoch;
  }
}

TEST(EpochPermutation, IsAPermutationOfTheDataset) {
  std::mt19937_64 gen(test::test_seed() + 1);
  for (int64_t n : {0, 1, 10, 1000, 60001}) {
    const auto perm = data::epoch_permutation(n, gen(), 5);
    EXPECT_EQ(static_cast<int64_t>(perm.size()), n);
    EXPECT_TRUE(is_permutation_of_range(perm)) << "n " << n;
  }
}

TEST(EpochPermutation, DeterministicAndDifferentPerEpochAndSeed) {
  const uint64_t seed = test::test_seed();
  const auto a = data::epoch_permutation(5000, seed, 3);
  EXPECT_EQ(a, data::epoch_permutation(5000, seed, 3));
  EXPECT_NE(a, data::epoch_permutation(5000, seed, 4));
  EXPECT_NE(a, data::epoch_permutation(5000, seed + 1, 3));
  // Not the identity, and not a shift of another epoch's order: few fixed points (~1 expected).
  const auto b = data::epoch_permutation(5000, seed, 4);
  int64_t same_place = 0, fixed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    same_place += a[i] == b[i] ? 1 : 0;
    fixed += a[i] == static_cast<int32_t>(i) ? 1 : 0;
  }
  EXPECT_LT(same_place, 10);
  EXPECT_LT(fixed, 10);
}

TEST(EpochPermutation, IdentityWithoutShuffle) {
  const auto perm = data::epoch_permutation(37, 123, 9, /*shuffle=*/false);
  std::vector<int32_t> identity(37);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(perm, identity);
}

TEST(EpochPermutation, AllOrdersEquallyLikely) {
  // n = 4 over 24000 epochs: each of the 24 orders about 1000 times; the chi-square on 23
  // degrees of freedom within 6 of its standard deviations.
  const uint64_t seed = test::test_seed() + 2;
  const int64_t epochs = 24000;
  std::map<std::vector<int32_t>, int64_t> counts;
  for (int64_t e = 0; e < epochs; ++e) ++counts[data::epoch_permutation(4, seed, e)];
  EXPECT_EQ(counts.size(), 24u);
  const double expected = static_cast<double>(epochs) / 24.0;
  double chi2 = 0.0;
  for (const auto& [order, c] : counts)
    chi2 += (static_cast<double>(c) - expected) * (static_cast<double>(c) - expected) / expected;
  EXPECT_LT(std::abs(chi2 - 23.0), 6.0 * std::sqrt(46.0)) << "chi-square " << chi2;
}

TEST(EpochPermutation, RejectsBadArguments) {
  try {
    (void)data::epoch_permutation(10, 1, -1);
    FAIL() << "negative epoch accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("epoch_permutation: epoch must be >= 0"), std::string::npos)
        << e.message();
  }
  EXPECT_THROW((void)data::epoch_permutation(-1, 1, 0), Error);
  EXPECT_THROW((void)data::epoch_permutation(int64_t{1} << 31, 1, 0), Error);
}

TEST(Shard, RanksCoverEachIndexExactlyOnce) {
  for (int64_t n : {0, 1, 10, 11, 100, 101}) {
    const auto perm = data::epoch_permutation(n, 77, 2);
    for (int world : {1, 2, 3}) {
      std::vector<int32_t> seen(static_cast<size_t>(n), 0);
      int64_t smallest = n, largest = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto mine = data::shard(perm, rank, world);
        EXPECT_EQ(static_cast<int64_t>(mine.size()), data::shard_size(n, rank, world));
        smallest = std::min<int64_t>(smallest, static_cast<int64_t>(mine.size()));
        largest = std::max<int64_t>(largest, static_cast<int64_t>(mine.size()));
        // Rank r holds perm[r], perm[r + world], ...
        for (size_t j = 0; j < mine.size(); ++j)
          EXPECT_EQ(mine[j], perm[static_cast<size_t>(rank) + j * static_cast<size_t>(world)]);
        for (int32_t s : mine) ++seen[static_cast<size_t>(s)];
      }
      for (int64_t s = 0; s < n; ++s)
        EXPECT_EQ(seen[static_cast<size_t>(s)], 1) << "n " << n << " world " << world
                                                   << " sample " << s;
      EXPECT_LE(largest - smallest, 1) << "n " << n << " world " << world;
    }
  }
}

TEST(Shard, RejectsRankOutsideWorld) {
  const std::vector<int32_t> perm{0, 1, 2};
  try {
    (void)data::shard(perm, 3, 3);
    FAIL() << "rank 3 of 3 accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("shard: rank 3 is not in [0, world = 3)"), std::string::npos)
        << e.message();
  }
  EXPECT_THROW((void)data::shard(perm, 0, 0), Error);
  EXPECT_THROW((void)data::shard(perm, -1, 2), Error);
}

}  // namespace
}  // namespace kestrel
