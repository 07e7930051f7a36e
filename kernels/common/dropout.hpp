#pragma once
// Inverted dropout (PyTorch's nn.Dropout) without a stored mask: element i is kept iff
// uniform(seed, stream, i) >= p, and kept values are scaled by 1 / (1 - p). The mask is a pure
// function of (seed, stream, i), so the backward pass regenerates it and the CPU and the GPU
// drop exactly the same elements.
#include <cstdint>

#include "kernels/common/hd.hpp"
#include "kernels/common/philox.hpp"

namespace kestrel::kernels {

// The Philox stream of layer `layer_index`'s mask at training step `step`: bit 62 set, so that
// it never meets the small streams (and bit-63 bias streams) that weight initialisation uses
// under the same seed; the step in bits 16..61 and the layer in bits 0..15.
KESTREL_HD_INLINE constexpr uint64_t dropout_stream(int64_t step, int layer_index) {
  return (uint64_t{1} << 62) | ((static_cast<uint64_t>(step) & ((uint64_t{1} << 46) - 1)) << 16) |
         (static_cast<uint64_t>(layer_index) & 0xffffu);
}

struct DropoutSpec {
  float p = 0.5f;       // probability of zeroing an element
  uint64_t seed = 0;    // the run's seed
  uint64_t stream = 0;  // separates masks: the caller combines e.g. (step, layer) into it
  // When set, the stream is dropout_stream(*step_on_device, layer) instead, the step read from
  // device memory when the kernel runs: a training step's launches then do not change from
  // step to step (CUDA Graph replay).
  const int64_t* step_on_device = nullptr;
  int layer = 0;

  KESTREL_HD uint64_t effective_stream() const {
    return step_on_device != nullptr ? dropout_stream(*step_on_device, layer) : stream;
  }
};

// The factor applied to kept elements: 1 / (1 - p), and 0 when everything is dropped.
KESTREL_HD_INLINE float dropout_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

KESTREL_HD_INLINE bool dropout_keeps(float p, uint64_t seed, uint64_t stream, int64_t i) {
  return rng::uniform(seed, stream, static_cast<uint64_t>(i)) >= p;
}
KESTREL_HD_INLINE bool dropout_keeps(const DropoutSpec& s, int64_t i) {
  return dropout_keeps(s.p, s.seed, s.effective_stream(), i);
}

// out[i] = in[i] * scale where the mask keeps i, else 0, for the four elements 4b..4b+3 (those
// below n) of call b. Their numbers are the four words of Philox block b (rng::philox_u32's
// layout), so one call computes the block once instead of once per element: the same mask as
// dropout_keeps element by element, at a quarter of the generator's work. Dropout is linear in
// its input with a fixed mask, so the forward (in = x, out = y) and the backward (in = dy,
// out = dx) are the same functor. In place (out == in) is allowed. Launch over
// dropout_blocks(n) indices.
struct ApplyDropoutMask {
  DropoutSpec spec;
  float scale;
  const float* in;
  float* out;
  int64_t n;
  KESTREL_HD void operator()(int64_t b) const { block(b, spec.effective_stream()); }

  // The host's loop (cpu::launch): the stream read once and the functor copied to a local that
  // no store can alias, so that the generator's rounds vectorise over blocks.
  void run_range(int64_t begin, int64_t end) const {
    const ApplyDropoutMask f = *this;
    const uint64_t stream = spec.effective_stream();
    const int64_t full = end < n / 4 ? end : n / 4;  // blocks whose four elements all exist
    int64_t b = begin;
    for (; b < full; ++b) {
      const rng::Bits4 bits = rng::philox_block(f.spec.seed, stream, static_cast<uint64_t>(b));
      for (int j = 0; j < 4; ++j) {
        const float kept = f.in[4 * b + j] * f.scale;
        f.out[4 * b + j] = rng::u32_to_unit_float(bits.v[j]) >= f.spec.p ? kept : 0.0f;
      }
    }
    for (; b < end; ++b) f.block(b, stream);
  }

  KESTREL_HD void block(int64_t b, uint64_t stream) const {
    const rng::Bits4 bits = rng::philox_block(spec.seed, stream, static_cast<uint64_t>(b));
    const int64_t first = 4 * b;
    for (int j = 0; j < 4; ++j) {
      const int64_t i = first + j;
      if (i < n) out[i] = rng::u32_to_unit_float(bits.v[j]) >= spec.p ? in[i] * scale : 0.0f;
    }
  }
};

KESTREL_HD_INLINE constexpr int64_t dropout_blocks(int64_t n) { return (n + 3) / 4; }

}  // namespace kestrel::kernels
