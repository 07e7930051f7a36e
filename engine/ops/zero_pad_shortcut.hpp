#pragma once
// The parameter-free shortcut of the CIFAR ResNets (He et al. 2016, "option A"): subsample by
// the stride and put the input's channels between zero channels,
//   y[n, c, i, j] = x[n, c - pad, i * stride, j * stride] for pad <= c < pad + C_in, else 0,
// PyTorch's F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, pad, C_out - C_in - pad)). The
// backward reads neither x nor y: dx takes dy at the kept positions and 0 elsewhere.
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

struct ZeroPadShortcutSpec {
  int stride = 2;
  int64_t out_channels = 0;  // C_out >= pad + C_in
  int64_t pad = 0;           // zero channels before the input's (C_out - C_in - pad after)
};

// [N, C_out, ceil(H / stride), ceil(W / stride)] (the length of x[..., ::stride]). Throws
// kestrel::Error for a stride below 1, a negative pad, too few output channels or an input that
// is not 4-D.
Shape zero_pad_shortcut_output_shape(const Shape& input, const ZeroPadShortcutSpec& spec);

void zero_pad_shortcut_forward(const Context& ctx, const Tensor& x, Tensor& y,
                               const ZeroPadShortcutSpec& spec);
// dx (overwritten) from dy; dx must not overlap dy.
void zero_pad_shortcut_backward(const Context& ctx, const Tensor& dy, Tensor& dx,
                                const ZeroPadShortcutSpec& spec);

}  // namespace kestrel::ops
