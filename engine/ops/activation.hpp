#pragma once
// Element-wise activations: relu (y = max(x, 0)) and tanh. In place (y is x) is allowed; the
// backward passes read the forward output y, not the input.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

void relu_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * (y > 0), from the forward output y. dx may alias dy.
void relu_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

void tanh_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * (1 - y^2), from the forward output y. dx may alias dy.
void tanh_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

}  // namespace kestrel::ops
