#pragma once
// linear (PyTorch's nn.Linear / F.linear): y = x w^T + b with x [N, ..., in], w [out, in],
// b [out], y [N, ..., out]: the leading dimensions are rows (a ViT's tokens [N, T, D] are N * T
// rows), as in torch. Outputs are preallocated by the caller and overwritten; none may alias an
// input. Deterministic: the products are kestrel::cpu::gemm (fixed tiles), the bias gradient sums
// each column's rows in order.
#include "engine/core/shape.hpp"
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// [N, ..., out] for an input [N, ..., in] and a weight [out, in].
Shape linear_output_shape(const Shape& input, const Shape& weight);

// y = x w^T + bias; bias may be nullptr (no bias). With relu, y = max(0, x w^T + bias) in one
// pass (fused into cuBLASLt's epilogue on the GPU).
void linear_forward(const Context& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                    Tensor& y, bool relu = false);
// dx = dy w.
void linear_backward_data(const Context& ctx, const Tensor& dy, const Tensor& w, Tensor& dx);
// dw = dy^T x.
void linear_backward_weight(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dw);
// db = column sums of dy (over every leading dimension).
void linear_backward_bias(const Context& ctx, const Tensor& dy, Tensor& db);

}  // namespace kestrel::ops
