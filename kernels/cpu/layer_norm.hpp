#pragma once
// Layer normalisation's per-row sums on the host (kernels/common/layer_norm.hpp has the
// arithmetic): rows in parallel, each row's values added in double in index order by one
// thread, so the bits do not depend on the thread count.
#include "kernels/common/layer_norm.hpp"

namespace kestrel::cpu {

// Each row's mean and 1 / sqrt(var + eps) into save_mean and save_rstd ([R] each).
void layer_norm_stats(const kernels::LayerNormGeometry& g, const float* x, double eps,
                      float* save_mean, float* save_rstd);

// Each row's dx coefficients ([R, 2]: mean of dy * weight, mean of dy * weight * xhat).
void layer_norm_backward_reduce(const kernels::LayerNormGeometry& g, const float* x,
                                const float* dy, const float* weight, const float* save_mean,
                                const float* save_rstd, float* coefficients);

}  // namespace kestrel::cpu
