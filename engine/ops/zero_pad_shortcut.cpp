#include "engine/ops/zero_pad_shortcut.hpp"

#include <limits>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/zero_pad_shortcut.hpp"

namespace kestrel::ops {

namespace {

Shape output_shape(std::string_view op, const Shape& in, const ZeroPadShortcutSpec& s) {
  KESTREL_CHECK(in.ndim() == 4, "{}: input must have 4 dimensions (N, C, H, W), got {}", op,
                in.str());
  KESTREL_CHECK(s.stride >= 1, "{}: stride must be positive, got {}", op, s.stride);
  KESTREL_CHECK(s.pad >= 0, "{}: channel padding must be non-negative, got {}", op, s.pad);
  KESTREL_CHECK(s.out_channels >= s.pad + in[1],
                "{}: {} output channels cannot hold {} zero channels and the input's {} (input "
                "{})",
                op, s.out_channels, s.pad, in[1], in.str());
  KESTREL_CHECK(in[2] >= 1 && in[3] >= 1, "{}: input {} has an empty spatial dimension", op,
                in.str());
  KESTREL_CHECK(in[2] * in[3] <= std::numeric_limits<int32_t>::max(),
                "{}: input planes of {}x{} elements exceed i32 indexing (input {})", op, in[2],
                in[3], in.str());
  return Shape{in[0], s.out_channels, (in[2] - 1) / s.stride + 1, (in[3] - 1) / s.stride + 1};
}

kernels::ZeroPadShortcutGeometry geometry(const Shape& in, const Shape& out,
                                          const ZeroPadShortcutSpec& s) {
  return kernels::ZeroPadShortcutGeometry{in[1],
                                          out[1],
                                          static_cast<int>(in[2]),
                                          static_cast<int>(in[3]),
                                          static_cast<int>(out[2]),
                                          static_cast<int>(out[3]),
                                          s.stride,
                                          s.pad};
}

}  // namespace

Shape zero_pad_shortcut_output_shape(const Shape& input, const ZeroPadShortcutSpec& spec) {
  return output_shape("zero_pad_shortcut", input, spec);
}

void zero_pad_shortcut_forward(const Context& ctx, const Tensor& x, Tensor& y,
                               const ZeroPadShortcutSpec& spec) {
  NvtxRange range("zero_pad_shortcut_forward");
  constexpr std::string_view op = "zero_pad_shortcut";
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "output", y, ctx, -1);
  const Shape out = output_shape(op, x.shape(), spec);
  detail::check_shape(op, "output", y, out);
  KESTREL_CHECK(!detail::overlap(x, y), "zero_pad_shortcut: output {} overlaps the input", y.str());
  detail::launch_elementwise(ctx, y.numel(),
                             kernels::ZeroPadShortcutForward{geometry(x.shape(), out, spec),
                                                             x.data<float>(), y.data<float>()});
}

void zero_pad_shortcut_backward(const Context& ctx, const Tensor& dy, Tensor& dx,
                                const ZeroPadShortcutSpec& spec) {
  NvtxRange range("zero_pad_shortcut_backward");
  constexpr std::string_view op = "zero_pad_shortcut_backward";
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_tensor(op, "grad_input", dx, ctx, -1);
  const Shape out = output_shape(op, dx.shape(), spec);
  detail::check_shape(op, "grad_output", dy, out);
  KESTREL_CHECK(!detail::overlap(dx, dy),
                "zero_pad_shortcut_backward: grad_input {} overlaps grad_output", dx.str());
  detail::launch_elementwise(ctx, dx.numel(),
                             kernels::ZeroPadShortcutBackward{geometry(dx.shape(), out, spec),
                                                              dy.data<float>(), dx.data<float>()});
}

}  // namespace kestrel::ops
