#pragma once
// Reflection at a border, PyTorch's F.pad(..., mode="reflect"): index -1 maps to 1 and n to
// n - 2 (the edge pixel is not repeated). Valid for i in (-n, 2n - 1); a line of one pixel
// reflects onto that pixel. Shared by the test-time views and the reflect-padded random crop.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

KESTREL_HD_INLINE int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

}  // namespace kestrel::kernels
