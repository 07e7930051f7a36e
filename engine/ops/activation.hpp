#pragma once
// Element-wise activations with PyTorch's definitions: relu (y = max(x, 0)), tanh, sigmoid,
// silu, gelu, hardswish and relu6. In place (y is x) is allowed for every forward, and dx may be
// dy for every backward. Each backward reads either the forward output y (relu, tanh, sigmoid,
// relu6: the forward may then run in place) or the input x (silu, gelu, hardswish), as its
// signature says. The functors and their conventions at the kinks: kernels/common/activation.hpp.
#include <string_view>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

void relu_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * (y > 0), from the forward output y. dx may alias dy.
void relu_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

void tanh_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * (1 - y^2), from the forward output y. dx may alias dy.
void tanh_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

void sigmoid_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * (1 - y) * y, from the forward output y.
void sigmoid_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

// y = x * sigmoid(x) (torch.nn.SiLU).
void silu_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy * s * (1 + x * (1 - s)), s = sigmoid(x), from the input x.
void silu_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx);

// torch.nn.GELU's `approximate`: "none" (the erf form) or "tanh".
enum class GeluApproximation { None, Tanh };
// "none" or "tanh".
std::string_view gelu_approximation_name(GeluApproximation a);

// y = x * Phi(x), or its tanh approximation.
void gelu_forward(const Context& ctx, const Tensor& x, Tensor& y, GeluApproximation approximate);
// From the input x.
void gelu_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx,
                   GeluApproximation approximate);

// y = x * relu6(x + 3) / 6 (torch.nn.Hardswish).
void hardswish_forward(const Context& ctx, const Tensor& x, Tensor& y);
// From the input x: 0 for x <= -3, dy * (x / 3 + 1/2) for -3 < x < 3, dy for x >= 3.
void hardswish_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx);

// y = min(max(x, 0), 6) (torch.nn.ReLU6).
void relu6_forward(const Context& ctx, const Tensor& x, Tensor& y);
// dx = dy where 0 < y < 6, else 0 (0 at both edges, as torch), from the forward output y.
void relu6_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx);

}  // namespace kestrel::ops
