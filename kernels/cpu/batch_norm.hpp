#pragma once
// Batch normalisation on the host (kernels/common/batch_norm.hpp has the arithmetic). The
// per-channel sums are computed per (n, c) plane, each plane's values spread over 8 fixed lanes
// in double (value j to lane j % 8, lanes added in a fixed tree), then each channel adds its
// planes in n order: one pass over the data, parallel over planes, and the same bits with any
// number of threads. The per-element passes walk whole planes with the functors' expressions,
// so they give the functors' bits without their index divisions.
#include "kernels/common/batch_norm.hpp"

namespace kestrel::cpu {

// A training pass's statistics: fills out.save_mean/save_invstd and updates the running
// statistics when given. Needs at least 2 values per channel.
void batch_norm_stats(const kernels::BatchNormGeometry& g, const float* x,
                      const kernels::BatchNormStatsOut& out);

// BatchNormApply over every element.
void batch_norm_apply(const kernels::BatchNormApply& f);

// Backward's per-channel sums (of dy and dy * (x - mean)) and what follows from them: dweight,
// dbias and dx's coefficients, where out asks for them.
void batch_norm_backward_reduce(const kernels::BatchNormGeometry& g, const float* x,
                                const float* dy, const kernels::BatchNormBackwardOut& out);

// BatchNormBackwardInput over every element.
void batch_norm_backward_input(const kernels::BatchNormBackwardInput& f);

}  // namespace kestrel::cpu
