#include "engine/ops/pool2d.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/pool2d.hpp"
#include "kernels/cpu/pool2d.hpp"

namespace kestrel::ops {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape (aten/src/ATen/native/Pool.h), without dilation.
int64_t pooled_size(int64_t in, int kernel, int stride, int pad, bool ceil_mode) {
  const int64_t span = in + 2 * static_cast<int64_t>(pad) - kernel + (ceil_mode ? stride - 1 : 0);
  int64_t out = floor_div(span, stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Shape output_shape(std::string_view op, const Shape& input, const Pool2dSpec& s) {
  KESTREL_CHECK(input.ndim() == 4, "{}: input must have 4 dimensions (N, C, H, W), got {}", op,
                input.str());
  KESTREL_CHECK(s.kernel_h > 0 && s.kernel_w > 0, "{}: kernel size must be positive, got {}x{}", op,
                s.kernel_h, s.kernel_w);
  KESTREL_CHECK(s.stride_h > 0 && s.stride_w > 0, "{}: stride must be positive, got {}x{}", op,
                s.stride_h, s.stride_w);
  KESTREL_CHECK(s.pad_h >= 0 && s.pad_w >= 0, "{}: padding must be non-negative, got {}x{}", op,
                s.pad_h, s.pad_w);
  KESTREL_CHECK(2 * s.pad_h <= s.kernel_h && 2 * s.pad_w <= s.kernel_w,
                "{}: padding {}x{} must be at most half the kernel size {}x{}", op, s.pad_h,
                s.pad_w, s.kernel_h, s.kernel_w);
  const int64_t h = input[2], w = input[3];
  KESTREL_CHECK(h * w <= std::numeric_limits<int32_t>::max(),
                "{}: input planes of {}x{} elements exceed i32 indexing (input {})", op, h, w,
                input.str());
  const int64_t oh = pooled_size(h, s.kernel_h, s.stride_h, s.pad_h, s.ceil_mode);
  const int64_t ow = pooled_size(w, s.kernel_w, s.stride_w, s.pad_w, s.ceil_mode);
  KESTREL_CHECK(oh >= 1 && ow >= 1,
                "{}: kernel {}x{} is larger than the padded input {}x{} (input {}, padding {}x{}, "
                "stride {}x{}): output would be {}x{}",
                op, s.kernel_h, s.kernel_w, h + 2 * s.pad_h, w + 2 * s.pad_w, input.str(), s.pad_h,
                s.pad_w, s.stride_h, s.stride_w, std::max<int64_t>(oh, 0),
                std::max<int64_t>(ow, 0));
  return Shape{input[0], input[1], oh, ow};
}

kernels::Pool2dGeometry geometry(const Shape& in, const Shape& out, const Pool2dSpec& s) {
  return kernels::Pool2dGeometry{in[0] * in[1],
                                 static_cast<int>(in[2]),
                                 static_cast<int>(in[3]),
                                 static_cast<int>(out[2]),
                                 static_cast<int>(out[3]),
                                 s.kernel_h,
                                 s.kernel_w,
                                 s.stride_h,
                                 s.stride_w,
                                 s.pad_h,
                                 s.pad_w,
                                 s.count_include_pad};
}

}  // namespace

Shape pool2d_output_shape(const Shape& input, const Pool2dSpec& spec) {
  return output_shape("pool2d", input, spec);
}

void max_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y, Tensor& argmax,
                        const Pool2dSpec& spec) {
  NvtxRange range("max_pool2d_forward");
  constexpr std::string_view op = "max_pool2d";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "output", y, ctx, 4);
  detail::check_tensor(op, "argmax", argmax, ctx, 4, DType::I32);
  const Shape out = output_shape(op, x.shape(), spec);
  detail::check_shape(op, "output", y, out);
  detail::check_shape(op, "argmax", argmax, out);
  const kernels::Pool2dGeometry g = geometry(x.shape(), out, spec);
  if (!ctx.is_cuda()) {  // plane-wise host loops, the functor's bits
    cpu::max_pool2d_forward(g, x.data<float>(), y.data<float>(), argmax.data<int32_t>());
    return;
  }
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::MaxPool2dForward{g, x.data<float>(), y.data<float>(), argmax.data<int32_t>()});
}

void max_pool2d_backward(const Context& ctx, const Tensor& dy, const Tensor& argmax, Tensor& dx,
                         const Pool2dSpec& spec) {
  NvtxRange range("max_pool2d_backward");
  constexpr std::string_view op = "max_pool2d_backward";
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "argmax", argmax, ctx, 4, DType::I32);
  detail::check_tensor(op, "grad_input", dx, ctx, 4);
  const Shape out = output_shape(op, dx.shape(), spec);
  detail::check_shape(op, "grad_output", dy, out);
  detail::check_shape(op, "argmax", argmax, out);
  const kernels::Pool2dGeometry g = geometry(dx.shape(), out, spec);
  if (!ctx.is_cuda()) {  // a scatter per plane, the gather's bits
    cpu::max_pool2d_backward(g, dy.data<float>(), argmax.data<int32_t>(), dx.data<float>());
    return;
  }
  detail::launch_elementwise(
      ctx, dx.numel(),
      kernels::MaxPool2dBackward{g, dy.data<float>(), argmax.data<int32_t>(), dx.data<float>()});
}

void avg_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y, const Pool2dSpec& spec) {
  NvtxRange range("avg_pool2d_forward");
  constexpr std::string_view op = "avg_pool2d";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "output", y, ctx, 4);
  const Shape out = output_shape(op, x.shape(), spec);
  detail::check_shape(op, "output", y, out);
  detail::launch_elementwise(
      ctx, y.numel(),
      kernels::AvgPool2dForward{geometry(x.shape(), out, spec), x.data<float>(), y.data<float>()},
      spec.kernel_h * spec.kernel_w);
}

void avg_pool2d_backward(const Context& ctx, const Tensor& dy, Tensor& dx, const Pool2dSpec& spec) {
  NvtxRange range("avg_pool2d_backward");
  constexpr std::string_view op = "avg_pool2d_backward";
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "grad_input", dx, ctx, 4);
  const Shape out = output_shape(op, dx.shape(), spec);
  detail::check_shape(op, "grad_output", dy, out);
  detail::launch_elementwise(ctx, dx.numel(),
                             kernels::AvgPool2dBackward{geometry(dx.shape(), out, spec),
                                                        dy.data<float>(), dx.data<float>()},
                             spec.kernel_h * spec.kernel_w);
}

}  // namespace kestrel::ops
