#include "engine/ops/conv2d.hpp"

#include <string_view>

#include "engine/ops/bf16_operands.hpp"
#include "engine/ops/checks.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/cpu/conv2d.hpp"
#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/depthwise_conv2d.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#include "kernels/cuda/conv2d_cudnn.hpp"
#endif

namespace kestrel::ops {

namespace {

// Checks that input, weight and spec fit together and derives the geometry. Every message
// starts with `op` and shows the shapes involved.
Conv2dGeometry checked_geometry(std::string_view op, const Shape& input, const Shape& weight,
                                const Conv2dSpec& spec) {
  KESTREL_CHECK(input.ndim() == 4, "{}: input must be 4-D [N, C, H, W], got {}", op, input.str());
  KESTREL_CHECK(weight.ndim() == 4, "{}: weight must be 4-D [K, C / groups, R, S], got {}", op,
                weight.str());
  KESTREL_CHECK(spec.stride_h > 0 && spec.stride_w > 0, "{}: stride must be positive, got ({}, {})",
                op, spec.stride_h, spec.stride_w);
  KESTREL_CHECK(spec.pad_h >= 0 && spec.pad_w >= 0,
                "{}: padding must be non-negative, got ({}, {})", op, spec.pad_h, spec.pad_w);
  KESTREL_CHECK(spec.dilation_h > 0 && spec.dilation_w > 0,
                "{}: dilation must be positive, got ({}, {})", op, spec.dilation_h,
                spec.dilation_w);
  KESTREL_CHECK(spec.groups > 0, "{}: groups must be positive, got {}", op, spec.groups);

  const int64_t n = input[0], c = input[1], h = input[2], w = input[3];
  const int64_t k = weight[0], c_per_group = weight[1], r = weight[2], s = weight[3];
  KESTREL_CHECK(c > 0, "{}: input {} has no channels", op, input.str());
  KESTREL_CHECK(k > 0 && c_per_group > 0 && r > 0 && s > 0, "{}: weight {} has an empty dimension",
                op, weight.str());
  KESTREL_CHECK(c % spec.groups == 0,
                "{}: groups {} does not divide the {} input channels "
                "(input {}, weight {})",
                op, spec.groups, c, input.str(), weight.str());
  KESTREL_CHECK(k % spec.groups == 0,
                "{}: groups {} does not divide the {} output channels "
                "(input {}, weight {})",
                op, spec.groups, k, input.str(), weight.str());
  KESTREL_CHECK(c_per_group * spec.groups == c,
                "{}: input has {} channels but weight expects {} "
                "(input {}, weight {}, groups {})",
                op, c, c_per_group * spec.groups, input.str(), weight.str(), spec.groups);

  const int64_t span_h = static_cast<int64_t>(spec.dilation_h) * (r - 1) + 1;
  const int64_t span_w = static_cast<int64_t>(spec.dilation_w) * (s - 1) + 1;
  const int64_t padded_h = h + 2 * static_cast<int64_t>(spec.pad_h);
  const int64_t padded_w = w + 2 * static_cast<int64_t>(spec.pad_w);
  KESTREL_CHECK(span_h <= padded_h && span_w <= padded_w,
                "{}: kernel {}x{} with dilation ({}, {}) spans {}x{}, more than the padded input "
                "{}x{} (input {}, weight {}, padding ({}, {}))",
                op, r, s, spec.dilation_h, spec.dilation_w, span_h, span_w, padded_h, padded_w,
                input.str(), weight.str(), spec.pad_h, spec.pad_w);
  return kernels::make_conv2d_geometry(n, c, h, w, k, r, s, spec);
}

Shape output_shape(const Conv2dGeometry& g) { return Shape{g.n, g.k, g.oh, g.ow}; }

// Scratch for a kernel, or null when it needs none.
float* workspace(const Context& ctx, int64_t floats, Tensor& holder) {
  if (floats == 0) return nullptr;
  holder = ctx.scratch(Shape{floats});
  return holder.data<float>();
}

float* workspace_bytes(const Context& ctx, size_t bytes, Tensor& holder) {
  return workspace(ctx, static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float)), holder);
}

// MathOptions::cpu_onednn: this f32 host convolution on oneDNN (not depthwise: the direct
// loops are faster there).
bool on_onednn(const Context& ctx, const Conv2dGeometry& g) {
  return ctx.math().cpu_onednn && !ctx.is_cuda() && cpu::onednn::built() &&
         !cpu::is_direct_depthwise(g) && cpu::onednn::supports(g);
}

#if defined(KESTREL_HAVE_CUDA)
// cuDNN runs the GPU convolutions; the device context lends its handle and workspace.
cuda::ConvOptions cudnn_options(const Context& ctx) {
  cuda::ConvOptions o;
  o.device = ctx.device().index;
  o.tf32 = ctx.math().tf32;
  o.deterministic = ctx.math().deterministic;
  o.bf16 = ctx.math().bf16;
  o.channels_last = o.bf16 && ctx.math().channels_last;
  return o;
}

cuda::WorkspaceSource cudnn_workspace(const Context& ctx) {
  return {[](void* owner, size_t bytes) {
            return static_cast<cuda::DeviceContext*>(owner)->workspace(bytes);
          },
          &ctx.cuda()};
}
#endif

// The layouts under which a convolution's three tensors are packed into bf16.
detail::PlaneLayout activations(const Conv2dGeometry& g) { return {g.c, g.h * g.w}; }
detail::PlaneLayout filters(const Conv2dGeometry& g) { return {g.channels_per_group(), g.r * g.s}; }
detail::PlaneLayout outputs(const Conv2dGeometry& g) { return {g.k, g.oh * g.ow}; }

// MathOptions::bf16: the operands rounded to bf16 and the result too (cuDNN's bf16
// configuration writes bf16), accumulation in f32; the bias is added in f32 afterwards.
void conv2d_forward_bf16(const Context& ctx, const Conv2dGeometry& g, const Tensor& x,
                         const Tensor& w, const Tensor* bias, Tensor& y) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    const cuda::ConvOptions o = cudnn_options(ctx);
    const Tensor xb = detail::packed_bf16(ctx, x, activations(g), o.channels_last);
    const Tensor wb = detail::packed_bf16(ctx, w, filters(g), o.channels_last);
    Tensor yb = detail::bf16_result(ctx, y);
    cuda::conv2d_forward(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, xb.raw_data(), wb.raw_data(),
                         nullptr, yb.raw_data(), o);
    detail::unpack_bf16(ctx, yb, y, bias, outputs(g), o.channels_last);
    return;
  }
#endif
  const Tensor xr = detail::rounded_to_bf16(ctx, x), wr = detail::rounded_to_bf16(ctx, w);
  Tensor scratch;
  cpu::conv2d_forward(g, xr.data<float>(), wr.data<float>(), nullptr, y.data<float>(),
                      workspace(ctx, cpu::conv2d_forward_workspace(g), scratch));
  detail::round_to_bf16_in_place(ctx, y, bias, outputs(g));
}

void conv2d_backward_data_bf16(const Context& ctx, const Conv2dGeometry& g, const Tensor& dy,
                               const Tensor& w, Tensor& dx) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    const cuda::ConvOptions o = cudnn_options(ctx);
    const Tensor dyb = detail::packed_bf16(ctx, dy, outputs(g), o.channels_last);
    const Tensor wb = detail::packed_bf16(ctx, w, filters(g), o.channels_last);
    Tensor dxb = detail::bf16_result(ctx, dx);
    cuda::conv2d_backward_data(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, dyb.raw_data(),
                               wb.raw_data(), dxb.raw_data(), o);
    detail::unpack_bf16(ctx, dxb, dx, nullptr, activations(g), o.channels_last);
    return;
  }
#endif
  const Tensor dyr = detail::rounded_to_bf16(ctx, dy), wr = detail::rounded_to_bf16(ctx, w);
  Tensor scratch;
  cpu::conv2d_backward_data(g, dyr.data<float>(), wr.data<float>(), dx.data<float>(),
                            workspace(ctx, cpu::conv2d_backward_data_workspace(g), scratch));
  detail::round_to_bf16_in_place(ctx, dx, nullptr, activations(g));
}

void conv2d_backward_weight_bf16(const Context& ctx, const Conv2dGeometry& g, const Tensor& x,
                                 const Tensor& dy, Tensor& dw) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    const cuda::ConvOptions o = cudnn_options(ctx);
    const Tensor xb = detail::packed_bf16(ctx, x, activations(g), o.channels_last);
    const Tensor dyb = detail::packed_bf16(ctx, dy, outputs(g), o.channels_last);
    Tensor dwb = detail::bf16_result(ctx, dw);
    cuda::conv2d_backward_filter(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, xb.raw_data(),
                                 dyb.raw_data(), dwb.raw_data(), o);
    detail::unpack_bf16(ctx, dwb, dw, nullptr, filters(g), o.channels_last);
    return;
  }
#endif
  const Tensor xr = detail::rounded_to_bf16(ctx, x), dyr = detail::rounded_to_bf16(ctx, dy);
  Tensor scratch;
  cpu::conv2d_backward_weight(g, xr.data<float>(), dyr.data<float>(), dw.data<float>(),
                              workspace(ctx, cpu::conv2d_backward_weight_workspace(g), scratch));
  detail::round_to_bf16_in_place(ctx, dw, nullptr, filters(g));
}

}  // namespace

Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dSpec& spec) {
  return output_shape(checked_geometry("conv2d", input, weight, spec));
}

Conv2dGeometry conv2d_geometry(const Shape& input, const Shape& weight, const Conv2dSpec& spec) {
  return checked_geometry("conv2d", input, weight, spec);
}

void conv2d_forward(const Context& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                    Tensor& y, const Conv2dSpec& spec) {
  NvtxRange range("conv2d_forward");
  constexpr std::string_view op = "conv2d";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "weight", w, ctx, 4);
  detail::check_tensor(op, "output", y, ctx, 4);
  const Conv2dGeometry g = checked_geometry(op, x.shape(), w.shape(), spec);
  if (bias != nullptr) {
    detail::check_tensor(op, "bias", *bias, ctx, 1);
    KESTREL_CHECK(bias->dim(0) == g.k,
                  "{}: bias has {} elements but weight has {} output "
                  "channels (bias {}, weight {})",
                  op, bias->dim(0), g.k, bias->shape().str(), w.shape().str());
  }
  detail::check_shape(op, "output", y, output_shape(g));
  if (ctx.math().bf16) return conv2d_forward_bf16(ctx, g, x, w, bias, y);
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::conv2d_forward(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, x.data<float>(),
                         w.data<float>(), bias != nullptr ? bias->data<float>() : nullptr,
                         y.data<float>(), cudnn_options(ctx));
    return;
  }
#endif
  Tensor scratch;
  const float* b = bias != nullptr ? bias->data<float>() : nullptr;
  if (on_onednn(ctx, g)) {
    cpu::onednn::conv2d_forward(
        g, x.data<float>(), w.data<float>(), b, y.data<float>(),
        workspace_bytes(ctx, cpu::onednn::forward_workspace_bytes(g, b != nullptr), scratch));
    return;
  }
  cpu::conv2d_forward(g, x.data<float>(), w.data<float>(), b, y.data<float>(),
                      workspace(ctx, cpu::conv2d_forward_workspace(g), scratch));
}

void conv2d_backward_data(const Context& ctx, const Tensor& dy, const Tensor& w, Tensor& dx,
                          const Conv2dSpec& spec) {
  NvtxRange range("conv2d_backward_data");
  constexpr std::string_view op = "conv2d_backward_data";
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "weight", w, ctx, 4);
  detail::check_tensor(op, "grad_input", dx, ctx, 4);
  const Conv2dGeometry g = checked_geometry(op, dx.shape(), w.shape(), spec);
  detail::check_shape(op, "grad_output", dy, output_shape(g));
  if (ctx.math().bf16) return conv2d_backward_data_bf16(ctx, g, dy, w, dx);
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::conv2d_backward_data(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, dy.data<float>(),
                               w.data<float>(), dx.data<float>(), cudnn_options(ctx));
    return;
  }
#endif
  Tensor scratch;
  if (on_onednn(ctx, g)) {
    cpu::onednn::conv2d_backward_data(
        g, dy.data<float>(), w.data<float>(), dx.data<float>(),
        workspace_bytes(ctx, cpu::onednn::backward_data_workspace_bytes(g), scratch));
    return;
  }
  cpu::conv2d_backward_data(g, dy.data<float>(), w.data<float>(), dx.data<float>(),
                            workspace(ctx, cpu::conv2d_backward_data_workspace(g), scratch));
}

void conv2d_backward_weight(const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dw,
                            const Conv2dSpec& spec) {
  NvtxRange range("conv2d_backward_weight");
  constexpr std::string_view op = "conv2d_backward_weight";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "grad_weight", dw, ctx, 4);
  const Conv2dGeometry g = checked_geometry(op, x.shape(), dw.shape(), spec);
  detail::check_shape(op, "grad_output", dy, output_shape(g));
  if (ctx.math().bf16) return conv2d_backward_weight_bf16(ctx, g, x, dy, dw);
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::conv2d_backward_filter(ctx.cuda().cudnn(), cudnn_workspace(ctx), g, x.data<float>(),
                                 dy.data<float>(), dw.data<float>(), cudnn_options(ctx));
    return;
  }
#endif
  Tensor scratch;
  if (on_onednn(ctx, g)) {
    cpu::onednn::conv2d_backward_weight(
        g, x.data<float>(), dy.data<float>(), dw.data<float>(),
        workspace_bytes(ctx, cpu::onednn::backward_weight_workspace_bytes(g), scratch));
    return;
  }
  cpu::conv2d_backward_weight(g, x.data<float>(), dy.data<float>(), dw.data<float>(),
                              workspace(ctx, cpu::conv2d_backward_weight_workspace(g), scratch));
}

void conv2d_backward_bias(const Context& ctx, const Tensor& dy, Tensor& db) {
  NvtxRange range("conv2d_backward_bias");
  constexpr std::string_view op = "conv2d_backward_bias";
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "grad_bias", db, ctx, 1);
  detail::check_shape(op, "grad_bias", db, Shape{dy.dim(1)});
  Conv2dGeometry g;
  g.n = dy.dim(0), g.k = dy.dim(1), g.oh = dy.dim(2), g.ow = dy.dim(3);
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::conv2d_backward_bias(ctx.cuda().cudnn(), g, dy.data<float>(), db.data<float>());
    return;
  }
#endif
  cpu::conv2d_backward_bias(g, dy.data<float>(), db.data<float>());
}

}  // namespace kestrel::ops
