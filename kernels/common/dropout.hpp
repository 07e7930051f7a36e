#pragma once
// Inverted dropout (PyTorch's nn.Dropout) without a stored mask: element i is kept iff
// uniform(seed, stream, i) >= p, and kept values are scaled by 1 / (1 - p). The mask is a pure
// function of (seed, stream, i), so the backward pass regenerates it and the CPU and the GPU
// drop exactly the same elements.
#include <cstdint>

#include "kernels/common/hd.hpp"
#include "kernels/common/philox.hpp"

namespace kestrel::kernels {

struct DropoutSpec {
  float p = 0.5f;       // probability of zeroing an element
  uint64_t seed = 0;    // the run's seed
  uint64_t stream = 0;  // separates masks: the caller combines e.g. (step, layer) into it
};

// The factor applied to kept elements: 1 / (1 - p), and 0 when everything is dropped.
KESTREL_HD_INLINE float dropout_scale(float p) { return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f; }

KESTREL_HD_INLINE bool dropout_keeps(const DropoutSpec& s, int64_t i) {
  return rng::uniform(s.seed, s.stream, static_cast<uint64_t>(i)) >= s.p;
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
    out[i] = dropout_keeps(spec, i) ? in[i] * scale : 0.0f;
  }
};

}  // namespace kestrel::kernels
