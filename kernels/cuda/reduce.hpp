#pragma once
// Deterministic reductions on the GPU: a fixed launch shape and a fixed summation tree, so the
// same input gives the same bits on every run (no atomics). Used for the loss, metrics and
// gradient norms, where n is small next to the work that produced the values.
#include <driver_types.h>

#include <cstdint>

namespace kestrel::cuda {

// *out = sum of x[0..n), accumulated in double, written as float. `out` is device memory.
void sum_deterministic(const float* x, int64_t n, float* out, cudaStream_t stream);
// *out = sum of x[0..n) for 32-bit integers (counts), in 64 bits.
void sum_deterministic(const int32_t* x, int64_t n, int64_t* out, cudaStream_t stream);
// *out = sum of x[i]^2, accumulated in double (gradient-norm clipping over all parameters:
// n in the tens of millions, so two passes over a fixed grid). `scratch` is device memory of
// at least kReduceScratchDoubles doubles.
constexpr int kReduceScratchDoubles = 256;
void sum_squares_deterministic(const float* x, int64_t n, double* out, double* scratch,
                               cudaStream_t stream);

}  // namespace kestrel::cuda
