#pragma once
// Max and average 2-D pooling, forward and backward, as element functors over NCHW planes.
// Indexing follows PyTorch's CPU kernels (aten/src/ATen/native/cpu/{Max,Avg}PoolKernel.cpp):
// window (oh, ow) spans rows [oh*stride_h - pad_h, oh*stride_h - pad_h + kernel_h), clipped to
// the input. The backward passes are gathers: each input element sums, in a fixed order, the
// output gradients of the windows that cover it, so no two threads write one value.
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"
#include "kernels/common/plane_index.hpp"

namespace kestrel::kernels {

struct Pool2dGeometry {
  int64_t planes;  // N * C
  int in_h, in_w, out_h, out_w;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad;
};

KESTREL_HD_INLINE int pool_min(int a, int b) { return a < b ? a : b; }
KESTREL_HD_INLINE int pool_max(int a, int b) { return a > b ? a : b; }

// The output windows covering input index i along one axis are [first, end): window o covers i
// when o*stride - pad <= i < o*stride - pad + kernel.
KESTREL_HD_INLINE int first_window_covering(int i, int kernel, int stride, int pad) {
  const int lowest = i + pad - kernel + 1;  // o*stride must reach this
  return lowest <= 0 ? 0 : (lowest + stride - 1) / stride;
}
KESTREL_HD_INLINE int end_window_covering(int i, int stride, int pad, int out) {
  return pool_min((i + pad) / stride + 1, out);
}

// Window (oh, ow) clipped to the input, plus PyTorch's average divisor: the window clipped to
// the padded input when count_include_pad (so ceil_mode windows hanging past the right padding
// count only up to it), else the number of real input elements.
struct AvgPoolWindow {
  int h0, h1, w0, w1;
  int divisor;
};

KESTREL_HD_INLINE AvgPoolWindow avg_pool_window(const Pool2dGeometry& g, int oh, int ow) {
  int h0 = oh * g.stride_h - g.pad_h;
  int w0 = ow * g.stride_w - g.pad_w;
  int h1 = pool_min(h0 + g.kernel_h, g.in_h + g.pad_h);
  int w1 = pool_min(w0 + g.kernel_w, g.in_w + g.pad_w);
  const int padded_area = (h1 - h0) * (w1 - w0);
  h0 = pool_max(h0, 0);
  w0 = pool_max(w0, 0);
  h1 = pool_min(h1, g.in_h);
  w1 = pool_min(w1, g.in_w);
  const int area = (h1 - h0) * (w1 - w0);
  return AvgPoolWindow{h0, h1, w0, w1, g.count_include_pad ? padded_area : area};
}

// Whether a max-pool window scan moves its maximum to v: ties keep the earlier element and a
// NaN wins over numbers (PyTorch's rule). Branch-free with a select on the CPU.
KESTREL_HD_INLINE bool max_pool_takes(float v, float best) { return v > best || v != v; }

// y and argmax are [planes, out_h, out_w]; argmax holds h * in_w + w within the plane. Padding
// never wins (the scan starts at -inf over real elements only); ties keep the first maximum in
// row-major order and a NaN wins over numbers, as in PyTorch.
struct MaxPool2dForward {
  Pool2dGeometry g;
  const float* x;
  float* y;
  int32_t* argmax;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, oh, ow] = split_plane_index(i, g.out_h, g.out_w);
    const float* xp = x + plane * g.in_h * g.in_w;
    int h0 = oh * g.stride_h - g.pad_h;
    int w0 = ow * g.stride_w - g.pad_w;
    const int h1 = pool_min(h0 + g.kernel_h, g.in_h);
    const int w1 = pool_min(w0 + g.kernel_w, g.in_w);
    h0 = pool_max(h0, 0);
    w0 = pool_max(w0, 0);
    float best = -INFINITY;
    int best_index = h0 * g.in_w + w0;
    for (int h = h0; h < h1; ++h) {
      for (int w = w0; w < w1; ++w) {
        const int index = h * g.in_w + w;
        const float v = xp[index];
        if (max_pool_takes(v, best)) {
          best = v;
          best_index = index;
        }
      }
    }
    y[i] = best;
    argmax[i] = best_index;
  }
};

// dx[h, w] = sum of dy over the covering windows whose argmax is (h, w), in window order.
struct MaxPool2dBackward {
  Pool2dGeometry g;
  const float* dy;
  const int32_t* argmax;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, h, w] = split_plane_index(i, g.in_h, g.in_w);
    const int index = h * g.in_w + w;  // the argmax value that points here
    const int64_t out_offset = plane * g.out_h * g.out_w;
    const int oh0 = first_window_covering(h, g.kernel_h, g.stride_h, g.pad_h);
    const int oh1 = end_window_covering(h, g.stride_h, g.pad_h, g.out_h);
    const int ow0 = first_window_covering(w, g.kernel_w, g.stride_w, g.pad_w);
    const int ow1 = end_window_covering(w, g.stride_w, g.pad_w, g.out_w);
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; ++oh) {
      for (int ow = ow0; ow < ow1; ++ow) {
        const int64_t o = out_offset + oh * g.out_w + ow;
        if (argmax[o] == index) sum += dy[o];
      }
    }
    dx[i] = sum;
  }
};

struct AvgPool2dForward {
  Pool2dGeometry g;
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, oh, ow] = split_plane_index(i, g.out_h, g.out_w);
    const AvgPoolWindow win = avg_pool_window(g, oh, ow);
    if (win.h0 >= win.h1 || win.w0 >= win.w1) {  // a window of padding only
      y[i] = 0.0f;
      return;
    }
    const float* xp = x + plane * g.in_h * g.in_w;
    y[i] = sum_window(xp, g.in_w, win.h0, win.h1, win.w0, win.w1) / static_cast<float>(win.divisor);
  }
};

// dx[h, w] = sum over covering windows of dy / divisor, in window order.
struct AvgPool2dBackward {
  Pool2dGeometry g;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, h, w] = split_plane_index(i, g.in_h, g.in_w);
    const float* dyp = dy + plane * g.out_h * g.out_w;
    const int oh0 = first_window_covering(h, g.kernel_h, g.stride_h, g.pad_h);
    const int oh1 = end_window_covering(h, g.stride_h, g.pad_h, g.out_h);
    const int ow0 = first_window_covering(w, g.kernel_w, g.stride_w, g.pad_w);
    const int ow1 = end_window_covering(w, g.stride_w, g.pad_w, g.out_w);
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; ++oh) {
      for (int ow = ow0; ow < ow1; ++ow) {
        const AvgPoolWindow win = avg_pool_window(g, oh, ow);
        sum += dyp[oh * g.out_w + ow] / static_cast<float>(win.divisor);
      }
    }
    dx[i] = sum;
  }
};

}  // namespace kestrel::kernels
