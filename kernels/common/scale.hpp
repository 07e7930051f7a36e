#pragma once
// x[i] *= factor, in place (gradient clipping).
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct ScaleInPlace {
  float* x;
  float factor;
  KESTREL_HD void operator()(int64_t i) const { x[i] *= factor; }
};

// torch.nn.utils.clip_grad_norm_ with the squared norm in device memory: every element works
// out the same coefficient, max_norm / (||x|| + 1e-6) in double, and scales by it (rounded to
// f32) when it is below 1, as ScaleInPlace does with the host's coefficient.
struct ClipByNorm {
  float* x;
  const double* sum_squares;
  double max_norm;
  KESTREL_HD void operator()(int64_t i) const {
    const double coef = max_norm / (::sqrt(*sum_squares) + 1e-6);
    if (coef < 1.0) x[i] *= static_cast<float>(coef);
  }
};

}  // namespace kestrel::kernels
