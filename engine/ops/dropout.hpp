#pragma once
// dropout (PyTorch's F.dropout): in training, each element is zeroed with probability p and the
// survivors are scaled by 1 / (1 - p); in evaluation (or with p == 0) y = x. The mask is drawn
// from Philox at (spec.seed, spec.stream, element index) and never stored: the backward pass
// regenerates it, so forward and backward must get the same spec. In place (y is x, dx is dy)
// is allowed.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/dropout.hpp"

namespace kestrel::ops {

using kernels::DropoutSpec;

void dropout_forward(const Context& ctx, const Tensor& x, Tensor& y, const DropoutSpec& spec,
                     bool training);
// dx = dy * mask / (1 - p) with the forward's mask; dx = dy when not training or p == 0.
void dropout_backward(const Context& ctx, const Tensor& dy, Tensor& dx, const DropoutSpec& spec,
                      bool training);

}  // namespace kestrel::ops
