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

// out[i] = in[i] * scale where the mask keeps i, else 0. Dropout is linear in its input with
// a fixed mask, so the forward (in = x, out = y) and the backward (in = dy, out = dx) are the
// same functor. In place (out == in) is allowed.
struct ApplyDropoutMask {
  DropoutSpec spec;
  float scale;
  const float* in;
  float* out;
  KESTREL_HD void operator()(int64_t i) const {
    out[i] = dropout_keeps(spec.p, spec.seed, spec.effective_stream(), i) ? in[i] * scale : 0.0f;
  }
};

}  // namespace kestrel::kernels
