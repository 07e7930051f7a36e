#pragma once
// Layer normalisation's per-row sums on the GPU: one warp per row, each lane summing a fixed
// stride of the row's values in double, then a fixed butterfly of shuffles; no atomics, so a
// rerun gives the same bits (not the CPU's: the order differs). The per-element passes are
// functors of kernels/common/layer_norm.hpp, launched through elementwise.cu.
#include <driver_types.h>

#include "kernels/common/layer_norm.hpp"

namespace kestrel::cuda {

// Each row's mean and 1 / sqrt(var + eps), queued on `stream`; device pointers.
void layer_norm_stats(const kernels::LayerNormGeometry& g, const float* x, double eps,
                      float* save_mean, float* save_rstd, cudaStream_t stream);

// Each row's dx coefficients ([R, 2]), as cpu::layer_norm_backward_reduce.
void layer_norm_backward_reduce(const kernels::LayerNormGeometry& g, const float* x,
                                const float* dy, const float* weight, const float* save_mean,
                                const float* save_rstd, float* coefficients, cudaStream_t stream);

}  // namespace kestrel::cuda
