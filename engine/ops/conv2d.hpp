#pragma once
// conv2d: PyTorch's torch.nn.functional.conv2d (cross-correlation) with stride, padding,
// dilation and groups, and its three backward passes.
//
//   input  [N, C, H, W], weight [K, C / groups, R, S], bias [K] (optional)
//   output [N, K, OH, OW], OH = (H + 2 pad_h - dilation_h (R - 1) - 1) / stride_h + 1 (same for W)
//
// Every output is preallocated by the caller and overwritten.
#include "engine/core/shape.hpp"
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::ops {

using Conv2dSpec = kernels::Conv2dSpec;
using Conv2dGeometry = kernels::Conv2dGeometry;

// The output shape for this input and weight; throws kestrel::Error ("conv2d: ...") when the
// shapes or the spec do not fit together.
Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dSpec& spec);
// Every size of the convolution (for backends, FLOP counts, summaries), with the same checks.
Conv2dGeometry conv2d_geometry(const Shape& input, const Shape& weight, const Conv2dSpec& spec);

// y = conv2d(x, w) + bias; bias may be null.
void conv2d_forward(const Context& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                    Tensor& y, const Conv2dSpec& spec);

// dx = dL/dx for dy = dL/dy; the input's shape is taken from dx.
void conv2d_backward_data(const Context& ctx, const Tensor& dy, const Tensor& w, Tensor& dx,
                          const Conv2dSpec& spec);

// dw = dL/dw, summed over the batch.
void conv2d_backward_weight(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dw,
                            const Conv2dSpec& spec);

// db[k] = sum of dy[n, k, oh, ow] over n, oh, ow.
void conv2d_backward_bias(const Context& ctx, const Tensor& dy, Tensor& db);

}  // namespace kestrel::ops
