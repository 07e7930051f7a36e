#pragma once
// Float operations rounded one at a time on both backends. nvcc contracts a * b + c into one
// fused multiply-add by default (--fmad=true); on the GPU these intrinsics keep the product
// and the sum apart, so a functor written with them gives the CPU's bits. GCC contracts
// a * b + c whenever the target has FMA (-mfma, -march=native); the default x86-64 target has
// none, and a build that enables FMA must add -ffp-contract=off to keep these bits (checked:
// -mfma alone changes the optimizer's).
#include <cmath>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels::fp {

KESTREL_HD_INLINE float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
KESTREL_HD_INLINE float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
KESTREL_HD_INLINE float fma_rn(float a, float b, float c) { return ::fmaf(a, b, c); }

}  // namespace kestrel::kernels::fp
