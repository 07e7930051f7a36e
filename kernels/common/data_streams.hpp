#pragma once
// The Philox streams of the data pipeline. A stream carries its purpose in the top byte and the
// epoch below it, so an epoch's shuffle and its augmentation, and those of different epochs,
// never draw from the same stream of one seed (and stay clear of the small stream numbers that
// weight init and dropout use).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::rng {

enum class DataPurpose : uint64_t { Shuffle = 0xD1, Augment = 0xD2 };

KESTREL_HD_INLINE uint64_t data_stream(DataPurpose purpose, int64_t epoch) {
  return (static_cast<uint64_t>(purpose) << 56) |
         (static_cast<uint64_t>(epoch) & 0x00ffffffffffffffull);
}

}  // namespace kestrel::rng
