#pragma once
// The order in which an epoch visits a data set, and its split over data-parallel ranks.
//
// Shuffle rule (the same on every machine): sample i gets the 64-bit key
//   (w[0] << 32) | w[1],  w = philox_block(seed, data_stream(Shuffle, epoch), i),
// and the epoch visits the samples by increasing key, ties broken by the smaller index.
#include <cstdint>
#include <span>
#include <vector>

namespace kestrel::data {

// A permutation of [0, n) for `epoch` under `seed`; the identity when shuffle is false.
std::vector<int32_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch,
                                       bool shuffle = true);

// Rank `rank` of `world` takes every world-th element starting at its rank:
// permutation[rank], permutation[rank + world], ... The ranks' shards are disjoint and together
// hold the whole permutation once, so an epoch covers the data set exactly once; shard sizes
// differ by at most one (the first n % world ranks hold one more) when world does not divide n.
std::vector<int32_t> shard(std::span<const int32_t> permutation, int rank, int world);

// The size of rank's shard of n elements: ceil((n - rank) / world).
int64_t shard_size(int64_t n, int rank, int world);

}  // namespace kestrel::data
