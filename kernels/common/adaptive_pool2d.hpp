#pragma once
// Adaptive average 2-D pooling, forward and backward, as element functors over NCHW planes.
// Output row oh averages input rows [floor(oh*H/OH), ceil((oh+1)*H/OH)), as in PyTorch; when
// the output is larger than the input (AlexNet's 3x3 -> 6x6) windows overlap and repeat.
#include <cstdint>

#include "kernels/common/hd.hpp"
#include "kernels/common/plane_index.hpp"

namespace kestrel::kernels {

struct AdaptivePool2dGeometry {
  int64_t planes;  // N * C
  int in_h, in_w, out_h, out_w;
};

// Window o of `out` windows over `in` elements: [adaptive_start, adaptive_end).
KESTREL_HD_INLINE int adaptive_start(int o, int out, int in) {
  return static_cast<int>(static_cast<int64_t>(o) * in / out);
}
KESTREL_HD_INLINE int adaptive_end(int o, int out, int in) {
  return static_cast<int>(((static_cast<int64_t>(o) + 1) * in + out - 1) / out);
}

struct AdaptiveAvgPool2dForward {
  AdaptivePool2dGeometry g;
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, oh, ow] = split_plane_index(i, g.out_h, g.out_w);
    const int h0 = adaptive_start(oh, g.out_h, g.in_h), h1 = adaptive_end(oh, g.out_h, g.in_h);
    const int w0 = adaptive_start(ow, g.out_w, g.in_w), w1 = adaptive_end(ow, g.out_w, g.in_w);
    const float* xp = x + plane * g.in_h * g.in_w;
    y[i] = sum_window(xp, g.in_w, h0, h1, w0, w1) / static_cast<float>((h1 - h0) * (w1 - w0));
  }
};

// Gather: input row h lies in output windows [floor(h*OH/H), ceil((h+1)*OH/H)), the same
// formula with the roles of input and output swapped.
struct AdaptiveAvgPool2dBackward {
  AdaptivePool2dGeometry g;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, h, w] = split_plane_index(i, g.in_h, g.in_w);
    const int oh0 = adaptive_start(h, g.in_h, g.out_h), oh1 = adaptive_end(h, g.in_h, g.out_h);
    const int ow0 = adaptive_start(w, g.in_w, g.out_w), ow1 = adaptive_end(w, g.in_w, g.out_w);
    const float* dyp = dy + plane * g.out_h * g.out_w;
    float sum = 0.0f;
    for (int oh = oh0; oh < oh1; ++oh) {
      const int rows = adaptive_end(oh, g.out_h, g.in_h) - adaptive_start(oh, g.out_h, g.in_h);
      for (int ow = ow0; ow < ow1; ++ow) {
        const int cols = adaptive_end(ow, g.out_w, g.in_w) - adaptive_start(ow, g.out_w, g.in_w);
        sum += dyp[oh * g.out_w + ow] / static_cast<float>(rows * cols);
      }
    }
    dx[i] = sum;
  }
};

// Output sides that are whole multiples of the input's (AlexNet's 3x3 -> 6x6, an identity):
// every window is a single input cell, so output (oh, ow) is (0 + x[oh / rh][ow / rw]) / 1 and
// an input cell's gradient is the sum of its rh x rw block of dy, row by row: the bits of the
// two general functors above, one plane per call, without their per-element window arithmetic.
KESTREL_HD_INLINE bool adaptive_pool_repeats(const AdaptivePool2dGeometry& g) {
  return g.out_h % g.in_h == 0 && g.out_w % g.in_w == 0;
}

struct AdaptiveAvgPool2dRepeatForward {
  AdaptivePool2dGeometry g;
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t plane) const {
    const int rh = g.out_h / g.in_h, rw = g.out_w / g.in_w;
    const float* xp = x + plane * g.in_h * g.in_w;
    float* yp = y + plane * g.out_h * g.out_w;
    for (int oh = 0; oh < g.out_h; ++oh) {
      const float* x_row = xp + (oh / rh) * g.in_w;
      for (int ow = 0; ow < g.out_w; ++ow) yp[oh * g.out_w + ow] = 0.0f + x_row[ow / rw];
    }
  }
};

struct AdaptiveAvgPool2dRepeatBackward {
  AdaptivePool2dGeometry g;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t plane) const {
    const int rh = g.out_h / g.in_h, rw = g.out_w / g.in_w;
    const float* dyp = dy + plane * g.out_h * g.out_w;
    float* dxp = dx + plane * g.in_h * g.in_w;
    for (int h = 0; h < g.in_h; ++h) {
      for (int w = 0; w < g.in_w; ++w) {
        float sum = 0.0f;
        for (int oh = h * rh; oh < (h + 1) * rh; ++oh)
          for (int ow = w * rw; ow < (w + 1) * rw; ++ow) sum += dyp[oh * g.out_w + ow];
        dxp[h * g.in_w + w] = sum;
      }
    }
  }
};

// The global pool's backward (output 1x1), one plane per call: every input element of the
// plane gets dy / (H * W), the same value (and bits) the general gather above computes, without
// its per-element window arithmetic and division.
struct GlobalAvgPool2dBackward {
  int64_t plane_size;  // H * W
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t plane) const {
    const float v = dy[plane] / static_cast<float>(plane_size);
    float* out = dx + plane * plane_size;
    for (int64_t j = 0; j < plane_size; ++j) out[j] = v;
  }
};

}  // namespace kestrel::kernels
