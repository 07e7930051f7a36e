#pragma once
// KESTREL_HD marks functions callable from host and device code: the single-source functors
// in kernels/common are compiled by the host compiler for the CPU backend and by nvcc for the
// CUDA backend, so both backends run the very same arithmetic.
#if defined(__CUDACC__)
#define KESTREL_HD __host__ __device__
#define KESTREL_HD_INLINE __host__ __device__ __forceinline__
#else
#define KESTREL_HD
#define KESTREL_HD_INLINE inline
#endif
