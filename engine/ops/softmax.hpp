#pragma once
// softmax over the last dimension (torch.softmax(x, -1)) and its backward, on the context's
// device: kernels/cpu/softmax.hpp and kernels/cuda/softmax.hpp (one warp per row). In place
// (y is x, dx is dy) is allowed.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// y = softmax(x) along the last dimension; x and y f32 of one shape, at least 1-D.
void softmax_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = y * (dy - sum(dy * y)) along the last dimension, from the forward's output y.
void softmax_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

}  // namespace kestrel::ops
