#pragma once
// Concatenation along the channel dimension (torch.cat(inputs, dim=1)) as a copy of one input's
// channel slice per launch. A tensor [N, C, ...] is N rows of C * inner elements (inner: the
// product of the dimensions after C); input k's rows are a contiguous run of C_k * inner
// elements inside each of the output's rows, starting at (C_0 + ... + C_{k-1}) * inner. The
// forward copies input rows into that run, the backward copies the run back out: both are
// gathers (every destination element reads one source element), with no atomics.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// dst[n * dst_row + dst_offset + r] = src[n * src_row + src_offset + r] for n in [0, N) and r in
// [0, slice): one call per copied element, i = n * slice + r.
struct CopyRowSlices {
  const float* src;
  float* dst;
  int64_t slice;       // elements copied per row (C_k * inner)
  int64_t src_row;     // elements per row of src
  int64_t src_offset;  // where the copied run starts in a row of src
  int64_t dst_row;
  int64_t dst_offset;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t n = i / slice, r = i - n * slice;
    dst[n * dst_row + dst_offset + r] = src[n * src_row + src_offset + r];
  }
};

}  // namespace kestrel::kernels
