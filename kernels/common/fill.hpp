#pragma once
// Fills n floats with one value.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct Fill {
  float* y;
  float value;
  KESTREL_HD void operator()(int64_t i) const { y[i] = value; }
};

}  // namespace kestrel::kernels
