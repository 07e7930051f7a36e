#pragma once
// Channel scaling for squeeze-and-excitation, y = x * s with x [N, C, H, W] and s [N, C, 1, 1]
// broadcast over each (n, c) plane of H * W elements (torchvision's SqueezeExcitation returns
// `scale * input`), as element functors. The backward is a gather: dx = dy * s per element,
// ds = the sum over a plane of dy * x, one call per plane adding in row-major order (a fixed
// order, no atomics: the same bits on every thread count, and run to run on a GPU).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// y[i] = x[i] * s[i / plane]. y may be x.
struct ScaleChannelsForward {
  const float* x;
  const float* s;
  float* y;
  int64_t plane;  // H * W
  KESTREL_HD void operator()(int64_t i) const { y[i] = x[i] * s[i / plane]; }
};

// dx[i] = dy[i] * s[i / plane]. dx may be dy.
struct ScaleChannelsGradInput {
  const float* dy;
  const float* s;
  float* dx;
  int64_t plane;
  KESTREL_HD void operator()(int64_t i) const { dx[i] = dy[i] * s[i / plane]; }
};

// ds[p] = sum over the plane p of dy * x, from 0 in row-major order: one call per (n, c).
struct ScaleChannelsGradScale {
  const float* dy;
  const float* x;
  float* ds;
  int64_t plane;
  KESTREL_HD void operator()(int64_t p) const {
    const float* a = dy + p * plane;
    const float* b = x + p * plane;
    float sum = 0.0f;
    for (int64_t k = 0; k < plane; ++k) sum += a[k] * b[k];
    ds[p] = sum;
  }
};

}  // namespace kestrel::kernels
