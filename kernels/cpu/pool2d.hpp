#pragma once
// Max pooling on the host, plane by plane. The element functors of kernels/common/pool2d.hpp
// define the arithmetic (and run it on a GPU); these loops compute the very same bits without
// their per-element index divisions: each thread takes whole (n, c) planes and walks their
// windows row by row. Max pooling's backward is a scatter into the recorded argmax: within one
// plane, windows in row-major order add into a zeroed plane, which is the gather's summation
// order for every input element (0 + the covering windows' gradients in window order), and
// planes never share an element, so no two threads write one value.
#include <cstdint>

#include "kernels/common/pool2d.hpp"

namespace kestrel::cpu {

// y and argmax [planes, out_h, out_w] from x [planes, in_h, in_w]; MaxPool2dForward's results.
void max_pool2d_forward(const kernels::Pool2dGeometry& g, const float* x, float* y,
                        int32_t* argmax);

// dx [planes, in_h, in_w] (overwritten) from dy and the argmax of max_pool2d_forward;
// MaxPool2dBackward's results. An argmax outside its plane is ignored.
void max_pool2d_backward(const kernels::Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                         float* dx);

}  // namespace kestrel::cpu
