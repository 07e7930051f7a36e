#pragma once
// 2-D pooling over NCHW tensors with PyTorch's semantics: max_pool2d, avg_pool2d and
// adaptive_avg_pool2d, forward and backward. Backward passes overwrite grad_input (they are
// gathers, not accumulations) and grad_input must not overlap grad_output.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

struct Pool2dSpec {
  int kernel_h, kernel_w, stride_h, stride_w, pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool2d only
};

// [N, C, OH, OW] with OH = floor_or_ceil((H + 2*pad_h - kernel_h) / stride_h) + 1; in ceil_mode
// the last window must start inside the input or its left padding (else it is dropped).
// Requires padding <= kernel/2 and an output of at least 1x1.
Shape pool2d_output_shape(const Shape& input, const Pool2dSpec& spec);

// argmax: i32, the shape of y; the flat index h*W + w of each maximum within its (n, c) plane.
void max_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y, Tensor& argmax,
                        const Pool2dSpec& spec);
void max_pool2d_backward(const Context& ctx, const Tensor& dy, const Tensor& argmax, Tensor& dx,
                         const Pool2dSpec& spec);

void avg_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y, const Pool2dSpec& spec);
void avg_pool2d_backward(const Context& ctx, const Tensor& dy, Tensor& dx, const Pool2dSpec& spec);

// [N, C, out_h, out_w]; the output may be larger than the input (windows then repeat).
Shape adaptive_avg_pool2d_output_shape(const Shape& input, int out_h, int out_w);

// The output size is y's (dy's) spatial size.
void adaptive_avg_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y);
void adaptive_avg_pool2d_backward(const Context& ctx, const Tensor& dy, Tensor& dx);

}  // namespace kestrel::ops
