#pragma once
// The parameter-free shortcut of the CIFAR ResNets (He et al. 2016, option A): keep every
// stride-th row and column and put the C_in channels between zero channels,
//   y[n, c, i, j] = x[n, c - pad, i * stride, j * stride]  for pad <= c < pad + C_in, else 0,
// which is F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, pad, C_out - C_in - pad)). The
// backward is the gather dx[n, c, h, w] = dy[n, c + pad, h / stride, w / stride] where h and w
// are multiples of the stride, else 0.
#include <cstdint>

#include "kernels/common/hd.hpp"
#include "kernels/common/plane_index.hpp"

namespace kestrel::kernels {

struct ZeroPadShortcutGeometry {
  int64_t in_channels, out_channels;
  int in_h, in_w, out_h, out_w;  // out = (in - 1) / stride + 1
  int stride;
  int64_t pad;  // zero channels before the input's
};

// One call per element of y [N, C_out, out_h, out_w].
struct ZeroPadShortcutForward {
  ZeroPadShortcutGeometry g;
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, oh, ow] = split_plane_index(i, g.out_h, g.out_w);
    const int64_t n = plane / g.out_channels;
    const int64_t c = plane - n * g.out_channels - g.pad;
    y[i] =
        c >= 0 && c < g.in_channels
            ? x[((n * g.in_channels + c) * g.in_h + static_cast<int64_t>(oh) * g.stride) * g.in_w +
                static_cast<int64_t>(ow) * g.stride]
            : 0.0f;
  }
};

// One call per element of dx [N, C_in, in_h, in_w].
struct ZeroPadShortcutBackward {
  ZeroPadShortcutGeometry g;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const auto [plane, h, w] = split_plane_index(i, g.in_h, g.in_w);
    const int64_t n = plane / g.in_channels;
    const int64_t c = plane - n * g.in_channels + g.pad;
    dx[i] = h % g.stride == 0 && w % g.stride == 0
                ? dy[((n * g.out_channels + c) * g.out_h + h / g.stride) * g.out_w + w / g.stride]
                : 0.0f;
  }
};

}  // namespace kestrel::kernels
