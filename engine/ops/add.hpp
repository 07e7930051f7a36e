#pragma once
// Element-wise sums for graphs with branches. add_forward is the residual connection's
// out = inputs[0] + inputs[1] + ...; its backward is the identity for every input, so there is
// no add_backward: a graph passes the output's gradient on as each input's. accumulate sums the
// gradients of a value read by several nodes.
#include <span>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// out = inputs[0] + inputs[1] + ... + inputs[k-1], added left to right in f32 (the same bits on
// every backend and thread count). At least 2 inputs, all f32 of one shape on ctx's device;
// out has that shape. out may be inputs[0] itself (in place) but must not overlap any other
// input (nor overlap inputs[0] other than by being exactly it). Inputs may repeat (x + x).
void add_forward(const Context& ctx, std::span<const Tensor> inputs, Tensor& out);

// dst += src, element-wise: same shape, f32, on ctx's device; dst must not overlap src.
void accumulate(const Context& ctx, const Tensor& src, Tensor& dst);

}  // namespace kestrel::ops
