#include "engine/data/sampler.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "kernels/common/data_streams.hpp"
#include "kernels/common/error.hpp"
#include "kernels/common/philox.hpp"

namespace kestrel::data {

std::vector<int32_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  KESTREL_CHECK(n >= 0 && n <= std::numeric_limits<int32_t>::max(),
                "epoch_permutation: n = {} must be in [0, 2^31)", n);
  KESTREL_CHECK(epoch >= 0, "epoch_permutation: epoch must be >= 0, got {}", epoch);
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;

  const uint64_t stream = rng::data_stream(rng::DataPurpose::Shuffle, epoch);
  std::vector<uint64_t> keys(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const rng::Bits4 w = rng::philox_block(seed, stream, static_cast<uint64_t>(i));
    keys[static_cast<size_t>(i)] = (static_cast<uint64_t>(w.v[0]) << 32) | w.v[1];
  }
  // A strict total order on (key, index), so any correct sort gives the same permutation.
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const uint64_t ka = keys[static_cast<size_t>(a)], kb = keys[static_cast<size_t>(b)];
    return ka != kb ? ka < kb : a < b;
  });
  return order;
}

int64_t shard_size(int64_t n, int rank, int world) {
  KESTREL_CHECK(world >= 1 && rank >= 0 && rank < world,
                "shard: rank {} is not in [0, world = {})", rank, world);
  return n > rank ? (n - rank + world - 1) / world : 0;
}

std::vector<int32_t> shard(std::span<const int32_t> permutation, int rank, int world) {
  const int64_t n = static_cast<int64_t>(permutation.size());
  std::vector<int32_t> mine;
  mine.reserve(static_cast<size_t>(shard_size(n, rank, world)));
  for (int64_t i = rank; i < n; i += world) mine.push_back(permutation[static_cast<size_t>(i)]);
  return mine;
}

}  // namespace kestrel::data
