#pragma once
// Local response normalisation across channels (torch.nn.LocalResponseNorm), forward and
// backward, as element functors over [N, C, inner] with inner = H * W:
//   s_c = k + alpha/size * sum_{c' in [c - size/2, c + (size-1)/2] ∩ [0, C)} x_{c'}^2
//   y_c = x_c / s_c^beta
// Backward, a gather over the channels whose window holds c:
//   dx_c = dy_c / s_c^beta - 2*alpha*beta/size * x_c * sum_{c' : c in window(c')} dy_c' y_c' / s_c'
#include <cmath>
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct LrnGeometry {
  int channels;
  int64_t inner;  // elements per channel of one sample (H * W)
  int size;
  float alpha, beta, k;
};

struct LrnForward {
  LrnGeometry g;
  const float* x;
  float* y;
  float* scale;  // s, kept for the backward pass
  KESTREL_HD void operator()(int64_t i) const {
    const int c = static_cast<int>((i / g.inner) % g.channels);
    const int64_t channel0 = i - c * g.inner;  // same sample and position, channel 0
    const int lo = c - g.size / 2 > 0 ? c - g.size / 2 : 0;
    const int hi = c + (g.size - 1) / 2 < g.channels - 1 ? c + (g.size - 1) / 2 : g.channels - 1;
    float sum = 0.0f;
    for (int j = lo; j <= hi; ++j) {
      const float v = x[channel0 + j * g.inner];
      sum += v * v;
    }
    const float s = g.k + g.alpha / static_cast<float>(g.size) * sum;
    scale[i] = s;
    y[i] = x[i] / ::powf(s, g.beta);
  }
};

struct LrnBackward {
  LrnGeometry g;
  const float* x;
  const float* y;
  const float* scale;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const int c = static_cast<int>((i / g.inner) % g.channels);
    const int64_t channel0 = i - c * g.inner;
    // Channel c' has c in its window when c' - size/2 <= c <= c' + (size-1)/2.
    const int lo = c - (g.size - 1) / 2 > 0 ? c - (g.size - 1) / 2 : 0;
    const int hi = c + g.size / 2 < g.channels - 1 ? c + g.size / 2 : g.channels - 1;
    float acc = 0.0f;
    for (int j = lo; j <= hi; ++j) {
      const int64_t e = channel0 + j * g.inner;
      acc += dy[e] * y[e] / scale[e];
    }
    const float coefficient = 2.0f * g.alpha * g.beta / static_cast<float>(g.size);
    dx[i] = dy[i] / ::powf(scale[i], g.beta) - coefficient * x[i] * acc;
  }
};

}  // namespace kestrel::kernels
