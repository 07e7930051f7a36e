#include "engine/ops/activation.hpp"

#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/activation.hpp"

namespace kestrel::ops {

void relu_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("relu_forward");
  detail::check_tensor("relu", "input", x, ctx, -1);
  detail::check_tensor("relu", "output", y, ctx, -1);
  detail::check_shape("relu", "output", y, x.shape());
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::ReluForward{x.data<float>(), y.data<float>()});
}

void relu_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx) {
  NvtxRange range("relu_backward");
  detail::check_tensor("relu_backward", "output", y, ctx, -1);
  detail::check_tensor("relu_backward", "grad_output", dy, ctx, -1);
  detail::check_tensor("relu_backward", "grad_input", dx, ctx, -1);
  detail::check_shape("relu_backward", "grad_output", dy, y.shape());
  detail::check_shape("relu_backward", "grad_input", dx, y.shape());
  detail::launch_elementwise(
      ctx, y.numel(), kernels::ReluBackward{y.data<float>(), dy.data<float>(), dx.data<float>()});
}

void tanh_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("tanh_forward");
  detail::check_tensor("tanh", "input", x, ctx, -1);
  detail::check_tensor("tanh", "output", y, ctx, -1);
  detail::check_shape("tanh", "output", y, x.shape());
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::TanhForward{x.data<float>(), y.data<float>()});
}

void tanh_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx) {
  NvtxRange range("tanh_backward");
  detail::check_tensor("tanh_backward", "output", y, ctx, -1);
  detail::check_tensor("tanh_backward", "grad_output", dy, ctx, -1);
  detail::check_tensor("tanh_backward", "grad_input", dx, ctx, -1);
  detail::check_shape("tanh_backward", "grad_output", dy, y.shape());
  detail::check_shape("tanh_backward", "grad_input", dx, y.shape());
  detail::launch_elementwise(
      ctx, y.numel(), kernels::TanhBackward{y.data<float>(), dy.data<float>(), dx.data<float>()});
}

namespace {

// A forward: x and y f32 of one shape on ctx's device.
void check_forward(std::string_view op, const Context& ctx, const Tensor& x, const Tensor& y) {
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_shape(op, "output", y, x.shape());
}

// A backward from `saved` (the forward's "input" or "output"): all of saved's shape.
void check_backward(std::string_view op, const Context& ctx, std::string_view saved_name,
                    const Tensor& saved, const Tensor& dy, const Tensor& dx) {
  detail::check_tensor(op, saved_name, saved, ctx, -1);
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_tensor(op, "grad_input", dx, ctx, -1);
  detail::check_shape(op, "grad_output", dy, saved.shape());
  detail::check_shape(op, "grad_input", dx, saved.shape());
}

}  // namespace

void sigmoid_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("sigmoid_forward");
  check_forward("sigmoid", ctx, x, y);
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::SigmoidForward{x.data<float>(), y.data<float>()});
}

void sigmoid_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx) {
  NvtxRange range("sigmoid_backward");
  check_backward("sigmoid_backward", ctx, "output", y, dy, dx);
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::SigmoidBackward{y.data<float>(), dy.data<float>(), dx.data<float>()});
}

void silu_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("silu_forward");
  check_forward("silu", ctx, x, y);
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::SiluForward{x.data<float>(), y.data<float>()});
}

void silu_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx) {
  NvtxRange range("silu_backward");
  check_backward("silu_backward", ctx, "input", x, dy, dx);
  detail::launch_elementwise(
      ctx, x.numel(), kernels::SiluBackward{x.data<float>(), dy.data<float>(), dx.data<float>()});
}

std::string_view gelu_approximation_name(GeluApproximation a) {
  return a == GeluApproximation::Tanh ? "tanh" : "none";
}

void gelu_forward(const Context& ctx, const Tensor& x, Tensor& y, GeluApproximation approximate) {
  NvtxRange range("gelu_forward");
  check_forward("gelu", ctx, x, y);
  if (approximate == GeluApproximation::Tanh)
    detail::launch_elementwise(ctx, x.numel(),
                               kernels::GeluTanhForward{x.data<float>(), y.data<float>()});
  else
    detail::launch_elementwise(ctx, x.numel(),
                               kernels::GeluErfForward{x.data<float>(), y.data<float>()});
}

void gelu_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx,
                   GeluApproximation approximate) {
  NvtxRange range("gelu_backward");
  check_backward("gelu_backward", ctx, "input", x, dy, dx);
  if (approximate == GeluApproximation::Tanh)
    detail::launch_elementwise(
        ctx, x.numel(),
        kernels::GeluTanhBackward{x.data<float>(), dy.data<float>(), dx.data<float>()});
  else
    detail::launch_elementwise(
        ctx, x.numel(),
        kernels::GeluErfBackward{x.data<float>(), dy.data<float>(), dx.data<float>()});
}

void hardswish_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("hardswish_forward");
  check_forward("hardswish", ctx, x, y);
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::HardswishForward{x.data<float>(), y.data<float>()});
}

void hardswish_backward(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx) {
  NvtxRange range("hardswish_backward");
  check_backward("hardswish_backward", ctx, "input", x, dy, dx);
  detail::launch_elementwise(
      ctx, x.numel(),
      kernels::HardswishBackward{x.data<float>(), dy.data<float>(), dx.data<float>()});
}

void relu6_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("relu6_forward");
  check_forward("relu6", ctx, x, y);
  detail::launch_elementwise(ctx, x.numel(),
                             kernels::Relu6Forward{x.data<float>(), y.data<float>()});
}

void relu6_backward(const Context& ctx, const Tensor& y, const Tensor& dy, Tensor& dx) {
  NvtxRange range("relu6_backward");
  check_backward("relu6_backward", ctx, "output", y, dy, dx);
  detail::launch_elementwise(
      ctx, y.numel(), kernels::Relu6Backward{y.data<float>(), dy.data<float>(), dx.data<float>()});
}

}  // namespace kestrel::ops
