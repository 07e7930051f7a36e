#include "engine/ops/activation.hpp"

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

}  // namespace kestrel::ops
