#pragma once
// x[i] *= factor, in place (gradient clipping).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct ScaleInPlace {
  float* x;
  float factor;
  KESTREL_HD void operator()(int64_t i) const { x[i] *= factor; }
};

}  // namespace kestrel::kernels
