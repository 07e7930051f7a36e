#pragma once
// Element-wise sums for the graph's branches: out = in_0 + in_1 + ... (residual connections)
// and dst += src (the gradients of a value read by several nodes), as element functors.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// Operands summed by one SumOperands launch. A fixed-size array of pointers keeps the functor
// a plain struct (it is passed by value as a kernel parameter: 8 pointers are 64 bytes); more
// inputs take several launches, each adding the next operands to the previous partial sum.
inline constexpr int kMaxSumOperands = 8;

// out[i] = in[0][i] + in[1][i] + ... + in[count - 1][i], added left to right in f32. A later
// launch with in[0] == out continues the same chain: the partial sum stored in out is the f32
// value the chain held, so any number of launches gives the bits of one left-to-right sum.
// out may be in[0] (each element is read before it is written, by the same call).
struct SumOperands {
  const float* in[kMaxSumOperands];
  int count;  // 1 to kMaxSumOperands
  float* out;
  KESTREL_HD void operator()(int64_t i) const {
    float sum = in[0][i];
    for (int k = 1; k < kMaxSumOperands; ++k)
      if (k < count) sum += in[k][i];
    out[i] = sum;
  }
};

// dst[i] += src[i].
struct AccumulateInto {
  const float* src;
  float* dst;
  KESTREL_HD void operator()(int64_t i) const { dst[i] += src[i]; }
};

}  // namespace kestrel::kernels
