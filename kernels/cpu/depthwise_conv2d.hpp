#pragma once
// Depthwise convolution on the host by direct loops: groups > 1 with one input channel per
// group (MobileNet's and EfficientNet's 3x3 and 5x5 convolutions, channel multiplier kg = k /
// groups >= 1). im2col + GEMM would run one tiny GEMM (kg x r*s by r*s x positions) per image
// and channel; here each output plane is a handful of shifted multiply-adds over its input
// plane. Stride 1 runs on a zero-padded copy of each plane (a thread-local buffer, reused), so
// that each tap is one long vectorised loop; other strides skip the padding row by row. One
// plane per parallel iteration, every sum in a fixed order: the same bits for any thread count.
// conv2d.cpp dispatches here (is_direct_depthwise).
#include <cstdint>

#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::cpu {

// Groups of one input channel each, more than one group (a conv with one input channel and one
// group, like LeNet-5's first, stays on im2col + GEMM).
inline bool is_direct_depthwise(const kernels::Conv2dGeometry& g) {
  return g.groups > 1 && g.channels_per_group() == 1;
}

// y = conv(x, w) + bias (bias may be null); plane (n, k) sums its window taps in (r, s) order.
void depthwise_conv2d_forward(const kernels::Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y);

// dx (overwritten): plane (n, c) adds, for each of its kg output channels in order and each tap
// in (r, s) order, that tap's products with dy into the input positions they came from (stride
// 1: tap by tap over the whole plane; otherwise output row by output row).
void depthwise_conv2d_backward_data(const kernels::Conv2dGeometry& g, const float* dy,
                                    const float* w, float* dx);

// dw (overwritten): per output channel and tap, the sum over images and positions of dy * x, in
// double: per image (in order) and row (stride 1: per image), four interleaved partial sums.
void depthwise_conv2d_backward_weight(const kernels::Conv2dGeometry& g, const float* x,
                                      const float* dy, float* dw);

}  // namespace kestrel::cpu
