#pragma once
// layer_norm: torch.nn.functional.layer_norm(x, (D,), weight, bias, eps) over the last
// dimension of x [..., D] (at least 2 dimensions: the batch first). Each of the R = numel / D
// rows is normalised with its own mean and biased variance, then scaled by weight [D] and
// shifted by bias [D]. The arithmetic and its accuracy: kernels/common/layer_norm.hpp.
// Deterministic on each backend (fixed summation orders, no atomics; the CPU's bits do not
// depend on the thread count).
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// The shape of the per-row statistics for an input: x's shape without its last dimension.
Shape layer_norm_stats_shape(const Shape& input);

// y = (x - mean) / sqrt(var + eps) * weight + bias per row. save_mean and save_rstd
// (layer_norm_stats_shape(x)) receive each row's mean and 1 / sqrt(var + eps), which backward
// reads. y must not overlap x.
void layer_norm_forward(const Context& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, Tensor& y, Tensor& save_mean, Tensor& save_rstd,
                        double eps);

// Gradients from forward's x and saved statistics; overwrites each non-null output: dx (like x,
// overlapping neither x nor dy), dweight and dbias ([D]). Reads neither y nor eps.
void layer_norm_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_rstd,
                         Tensor* dx, Tensor* dweight, Tensor* dbias);

}  // namespace kestrel::ops
