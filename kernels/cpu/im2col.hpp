#pragma once
// im2col / col2im for one image (Caffe's layout). The column matrix of `channels` input planes
// has one row per (channel, kernel row, kernel column) and one column per output position:
// col[(ci * r + kr) * s + ks][oh * ow_extent + ow] = x[ci][oh * stride - pad + kr * dilation]
//                                                     [ow * stride - pad + ks * dilation],
// zero where that position falls in the padding. Both run on the calling thread only.
#include <cstdint>

#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::cpu {

// x [channels, g.h, g.w] -> col [channels * g.r * g.s, g.oh * g.ow].
void im2col(const kernels::Conv2dGeometry& g, int64_t channels, const float* x, float* col);

// The adjoint of im2col: dx [channels, g.h, g.w] is overwritten with, for each input position,
// the sum of the column entries read from it. Sums in a fixed order (serial scatter).
void col2im(const kernels::Conv2dGeometry& g, int64_t channels, const float* col, float* dx);

}  // namespace kestrel::cpu
