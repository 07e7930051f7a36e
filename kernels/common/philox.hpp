#pragma once
// Counter-based randomness: Philox4x32-10 (Random123). Every random number kestrel draws is a
// pure function of (seed, stream, index): weight init, dropout masks, shuffles and crops are
// identical on the CPU and the GPU, whatever the thread or block layout, and a resumed run
// continues the exact stream.
#include <Random123/philox.h>

#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::rng {

struct Bits4 {
  uint32_t v[4];
};

// The raw generator: counter (4 words) and key (2 words) in, 4 words out.
KESTREL_HD_INLINE Bits4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                      uint32_t k0, uint32_t k1) {
  r123::Philox4x32_R<10> gen;
  r123::Philox4x32_R<10>::ctr_type ctr = {{c0, c1, c2, c3}};
  r123::Philox4x32_R<10>::key_type key = {{k0, k1}};
  const auto out = gen(ctr, key);
  return Bits4{{out[0], out[1], out[2], out[3]}};
}

// Four words for block `block` of stream `stream` under `seed`. Streams separate independent
// uses of one seed (a layer's init, an epoch's shuffle, a step's dropout mask).
KESTREL_HD_INLINE Bits4 philox_block(uint64_t seed, uint64_t stream, uint64_t block) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                       static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The 32 random bits for element `index`: word index%4 of block index/4.
KESTREL_HD_INLINE uint32_t philox_u32(uint64_t seed, uint64_t stream, uint64_t index) {
  return philox_block(seed, stream, index >> 2).v[index & 3u];
}

// Uniform float in [0, 1): the top 24 bits, so every value is exactly representable.
KESTREL_HD_INLINE float u32_to_unit_float(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

KESTREL_HD_INLINE float uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return u32_to_unit_float(philox_u32(seed, stream, index));
}

}  // namespace kestrel::rng
