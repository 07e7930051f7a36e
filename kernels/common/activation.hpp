#pragma once
// ReLU and tanh forward and backward as element functors (one output element per call).
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct ReluForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = x[i] > 0.0f ? x[i] : 0.0f; }
};

// dx = dy where the forward output was positive. Uses the output y, so it also works when the
// forward ran in place. Both inputs are read unconditionally so that the choice compiles to a
// select (vectorised, no branch to mispredict) rather than a conditional load.
struct ReluBackward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float g = dy[i];
    dx[i] = y[i] > 0.0f ? g : 0.0f;
  }
};

struct TanhForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = ::tanhf(x[i]); }
};

// dx = dy * (1 - y^2), tanh's derivative written with the forward output, so that the forward
// may run in place and the backward needs no input.
struct TanhBackward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const { dx[i] = dy[i] * (1.0f - y[i] * y[i]); }
};

}  // namespace kestrel::kernels
