#pragma once
// Row softmax on the GPU (kernels/cpu/softmax.hpp's contract): one warp per row, each lane
// taking every 32nd element, the row's max and sums combined by a fixed shuffle tree (sums in
// double, as the CPU's). No atomics: a rerun gives the same bits; the CPU's up to rounding (the
// order of the sums differs). In place is allowed. Pointers are device memory.
#include <driver_types.h>

#include <cstdint>

namespace kestrel::cuda {

void softmax_rows_forward(const float* x, float* y, int64_t rows, int64_t cols,
                          cudaStream_t stream);
void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows,
                           int64_t cols, cudaStream_t stream);

}  // namespace kestrel::cuda
