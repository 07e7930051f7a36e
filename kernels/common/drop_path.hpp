#pragma once
// Stochastic depth (torchvision.ops.StochasticDepth, mode "row"): each sample of a residual
// branch is kept whole with probability 1 - p and scaled by 1 / (1 - p), or zeroed whole. The
// keep decision of sample n is dropout's (kernels/common/dropout.hpp) at index n: a pure
// function of (seed, stream, n), never stored, so backward regenerates it and both backends
// drop the same samples.
#include <cstdint>

#include "kernels/common/dropout.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// out[i] = in[i] * scale where sample i / per_sample is kept, else 0. Linear in `in` with a fixed
// mask, so forward (x -> y) and backward (dy -> dx) are this one functor. In place allowed.
struct ApplyDropPathMask {
  DropoutSpec spec;
  float scale;
  const float* in;
  float* out;
  int64_t per_sample;
  KESTREL_HD void operator()(int64_t i) const {
    out[i] = dropout_keeps(spec, i / per_sample) ? in[i] * scale : 0.0f;
  }
};

}  // namespace kestrel::kernels
