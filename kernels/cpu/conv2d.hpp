#pragma once
// 2-D convolution on the host by im2col + GEMM (Caffe's scheme), forward and the three
// backward passes. Images are handed out in slots of consecutive images, one slot per parallel
// iteration with its own piece of the caller's workspace; the slots depend on the geometry
// alone, and every sum runs in a fixed order, so results are bit-identical for any thread count.
//
// Layouts as in conv2d_geometry.hpp. The workspace is caller-owned scratch of at least the
// number of floats the matching *_workspace function returns (none when it returns 0).
#include <cstdint>

#include "kernels/common/conv2d_geometry.hpp"

namespace kestrel::cpu {

int64_t conv2d_forward_workspace(const kernels::Conv2dGeometry& g);
int64_t conv2d_backward_data_workspace(const kernels::Conv2dGeometry& g);
int64_t conv2d_backward_weight_workspace(const kernels::Conv2dGeometry& g);

// y = conv(x, w) + bias; bias may be null.
void conv2d_forward(const kernels::Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, float* workspace);

// dx = the input gradient for output gradient dy (overwritten).
void conv2d_backward_data(const kernels::Conv2dGeometry& g, const float* dy, const float* w,
                          float* dx, float* workspace);

// dw = the weight gradient (overwritten): per-slot partial sums over the slot's images in
// order, then added slot by slot in order.
void conv2d_backward_weight(const kernels::Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw, float* workspace);

// db[k] = sum over images and output positions of dy[., k, ., .] (overwritten).
void conv2d_backward_bias(const kernels::Conv2dGeometry& g, const float* dy, float* db);

}  // namespace kestrel::cpu
