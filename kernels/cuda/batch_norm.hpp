#pragma once
// Batch normalisation's per-channel reductions on the GPU: one block per channel, each thread
// summing a fixed stride of the channel's values in double, then a fixed shared-memory tree; no
// atomics, so a rerun gives the same bits (not the CPU's: the order differs). The per-element
// passes are functors of kernels/common/batch_norm.hpp, launched through elementwise.cu.
#include <driver_types.h>

#include "kernels/common/batch_norm.hpp"

namespace kestrel::cuda {

// A training pass's statistics (kernels::batch_norm_finish_stats per channel), queued on
// `stream`; every pointer is device memory. At least 2 values per channel.
void batch_norm_stats(const kernels::BatchNormGeometry& g, const float* x,
                      const kernels::BatchNormStatsOut& out, cudaStream_t stream);

// Backward's sums of dy and dy * (x - mean) per channel and kernels::batch_norm_finish_backward.
void batch_norm_backward_reduce(const kernels::BatchNormGeometry& g, const float* x,
                                const float* dy, const kernels::BatchNormBackwardOut& out,
                                cudaStream_t stream);

}  // namespace kestrel::cuda
