// adaptive_avg_pool2d (declared in engine/ops/pool2d.hpp beside the fixed-window pools).
#include "kernels/common/adaptive_pool2d.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/ops/pool2d.hpp"
#include "engine/runtime/nvtx.hpp"

namespace kestrel::ops {

namespace {

constexpr int64_t kMaxSide = std::numeric_limits<int32_t>::max();

Shape output_shape(std::string_view op, const Shape& input, int64_t out_h, int64_t out_w) {
  KESTREL_CHECK(input.ndim() == 4, "{}: input must have 4 dimensions (N, C, H, W), got {}", op,
                input.str());
  KESTREL_CHECK(input[2] >= 1 && input[3] >= 1, "{}: input {} has an empty spatial dimension", op,
                input.str());
  KESTREL_CHECK(out_h >= 1 && out_w >= 1, "{}: output size must be positive, got {}x{}", op, out_h,
                out_w);
  KESTREL_CHECK(input[2] * input[3] <= kMaxSide && out_h * out_w <= kMaxSide,
                "{}: planes of input {} or output {}x{} exceed i32 indexing", op, input.str(),
                out_h, out_w);
  return Shape{input[0], input[1], out_h, out_w};
}

kernels::AdaptivePool2dGeometry geometry(const Shape& in, const Shape& out) {
  return kernels::AdaptivePool2dGeometry{in[0] * in[1], static_cast<int>(in[2]),
                                         static_cast<int>(in[3]), static_cast<int>(out[2]),
                                         static_cast<int>(out[3])};
}

}  // namespace

Shape adaptive_avg_pool2d_output_shape(const Shape& input, int out_h, int out_w) {
  return output_shape("adaptive_avg_pool2d", input, out_h, out_w);
}

void adaptive_avg_pool2d_forward(const Context& ctx, const Tensor& x, Tensor& y) {
  NvtxRange range("adaptive_avg_pool2d_forward");
  constexpr std::string_view op = "adaptive_avg_pool2d";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "output", y, ctx, 4);
  detail::check_shape(op, "output", y, output_shape(op, x.shape(), y.dim(2), y.dim(3)));
  const kernels::AdaptivePool2dGeometry g = geometry(x.shape(), y.shape());
  if (kernels::adaptive_pool_repeats(g)) {  // a plane per call, copying
    detail::launch_elementwise(
        ctx, g.planes, kernels::AdaptiveAvgPool2dRepeatForward{g, x.data<float>(), y.data<float>()},
        y.dim(2) * y.dim(3));
    return;
  }
  // Each output reads its window: about H*W / (OH*OW) elements (a whole plane for the global
  // pool), so a global pool over N*C < kMinParallelWork planes still uses every thread.
  const int64_t window = std::max<int64_t>(1, (x.dim(2) * x.dim(3)) / (y.dim(2) * y.dim(3)));
  detail::launch_elementwise(ctx, y.numel(),
                             kernels::AdaptiveAvgPool2dForward{g, x.data<float>(), y.data<float>()},
                             window);
}

void adaptive_avg_pool2d_backward(const Context& ctx, const Tensor& dy, Tensor& dx) {
  NvtxRange range("adaptive_avg_pool2d_backward");
  constexpr std::string_view op = "adaptive_avg_pool2d_backward";
  detail::check_tensor(op, "grad_output", dy, ctx, 4);
  detail::check_tensor(op, "grad_input", dx, ctx, 4);
  detail::check_shape(op, "grad_output", dy, output_shape(op, dx.shape(), dy.dim(2), dy.dim(3)));
  if (dy.dim(2) == 1 && dy.dim(3) == 1) {  // the global pool: a plane per call
    const int64_t plane_size = dx.dim(2) * dx.dim(3);
    detail::launch_elementwise(
        ctx, dy.numel(),
        kernels::GlobalAvgPool2dBackward{plane_size, dy.data<float>(), dx.data<float>()},
        plane_size);
    return;
  }
  const kernels::AdaptivePool2dGeometry g = geometry(dx.shape(), dy.shape());
  if (kernels::adaptive_pool_repeats(g)) {  // a plane per call, summing blocks
    detail::launch_elementwise(
        ctx, g.planes,
        kernels::AdaptiveAvgPool2dRepeatBackward{g, dy.data<float>(), dx.data<float>()},
        dy.dim(2) * dy.dim(3));
    return;
  }
  detail::launch_elementwise(
      ctx, dx.numel(), kernels::AdaptiveAvgPool2dBackward{g, dy.data<float>(), dx.data<float>()});
}

}  // namespace kestrel::ops
