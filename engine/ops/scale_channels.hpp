#pragma once
// Channel scaling, the last step of a squeeze-and-excitation block: y = x * s with x
// [N, C, H, W] and s [N, C, 1, 1], s broadcast over each (n, c) plane (torchvision's
// SqueezeExcitation: `scale * input`). Its backward reads both inputs: dx = dy * s and
// ds = the sum over each plane of dy * x, one plane at a time in row-major order (no atomics:
// the same bits with any thread count, run to run on a GPU).
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// [N, C, H, W] for x [N, C, H, W] and s [N, C, 1, 1]; throws kestrel::Error naming both shapes
// otherwise.
Shape scale_channels_output_shape(const Shape& x, const Shape& s);

// y may be x itself (in place); it must not overlap s.
void scale_channels_forward(const Context& ctx, const Tensor& x, const Tensor& s, Tensor& y);

// Writes dx = dy * s and ds = sum over H, W of dy * x (overwriting them); either may be null
// when that gradient is not wanted. ds is computed first, so dx may be dy itself. dx and ds must
// not overlap x or s.
void scale_channels_backward(const Context& ctx, const Tensor& x, const Tensor& s, const Tensor& dy,
                             Tensor* dx, Tensor* ds);

}  // namespace kestrel::ops
