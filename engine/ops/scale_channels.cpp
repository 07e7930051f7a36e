#include "engine/ops/scale_channels.hpp"

#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/scale_channels.hpp"

namespace kestrel::ops {

namespace {

Shape output_shape(std::string_view op, const Shape& x, const Shape& s) {
  KESTREL_CHECK(x.ndim() == 4, "{}: input must have 4 dimensions (N, C, H, W), got {}", op,
                x.str());
  KESTREL_CHECK(s == (Shape{x[0], x[1], 1, 1}),
                "{}: scale must be [N, C, 1, 1] = [{}, {}, 1, 1] for input {}, got {}", op, x[0],
                x[1], x.str(), s.str());
  return x;
}

void check_inputs(std::string_view op, const Context& ctx, const Tensor& x, const Tensor& s) {
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "scale", s, ctx, -1);
  output_shape(op, x.shape(), s.shape());
}

}  // namespace

Shape scale_channels_output_shape(const Shape& x, const Shape& s) {
  return output_shape("scale_channels", x, s);
}

void scale_channels_forward(const Context& ctx, const Tensor& x, const Tensor& s, Tensor& y) {
  NvtxRange range("scale_channels_forward");
  constexpr std::string_view op = "scale_channels";
  check_inputs(op, ctx, x, s);
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_shape(op, "output", y, x.shape());
  KESTREL_CHECK(!detail::overlap(y, s), "scale_channels: output {} overlaps the scale", y.str());
  KESTREL_CHECK(!detail::overlap(y, x) || y.raw_data() == x.raw_data(),
                "scale_channels: output {} partially overlaps the input (in place, the output "
                "must be the input itself)",
                y.str());
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::ScaleChannelsForward{x.data<float>(), s.data<float>(),
                                                           y.data<float>(), x.dim(2) * x.dim(3)});
}

void scale_channels_backward(const Context& ctx, const Tensor& x, const Tensor& s, const Tensor& dy,
                             Tensor* dx, Tensor* ds) {
  NvtxRange range("scale_channels_backward");
  constexpr std::string_view op = "scale_channels_backward";
  check_inputs(op, ctx, x, s);
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_shape(op, "grad_output", dy, x.shape());
  const int64_t plane = x.dim(2) * x.dim(3);
  if (ds != nullptr) {
    detail::check_tensor(op, "grad_scale", *ds, ctx, -1);
    detail::check_shape(op, "grad_scale", *ds, s.shape());
    KESTREL_CHECK(!detail::overlap(*ds, x) && !detail::overlap(*ds, s) && !detail::overlap(*ds, dy),
                  "scale_channels_backward: grad_scale {} overlaps an input or grad_output",
                  ds->str());
  }
  if (dx != nullptr) {
    detail::check_tensor(op, "grad_input", *dx, ctx, -1);
    detail::check_shape(op, "grad_input", *dx, x.shape());
    KESTREL_CHECK(!detail::overlap(*dx, x) && !detail::overlap(*dx, s),
                  "scale_channels_backward: grad_input {} overlaps an input", dx->str());
    KESTREL_CHECK(!detail::overlap(*dx, dy) || dx->raw_data() == dy.raw_data(),
                  "scale_channels_backward: grad_input {} partially overlaps grad_output",
                  dx->str());
  }
  // ds first: it reads dy, which dx may overwrite.
  if (ds != nullptr)
    detail::launch_elementwise(ctx, s.numel(),
                               kernels::ScaleChannelsGradScale{dy.data<float>(), x.data<float>(),
                                                               ds->data<float>(), plane},
                               2 * plane);
  if (dx != nullptr)
    detail::launch_elementwise(ctx, x.numel(),
                               kernels::ScaleChannelsGradInput{dy.data<float>(), s.data<float>(),
                                                               dx->data<float>(), plane});
}

}  // namespace kestrel::ops
