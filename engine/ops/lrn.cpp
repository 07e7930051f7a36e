#include "engine/ops/lrn.hpp"

#include <cstdint>
#include <limits>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/lrn.hpp"

namespace kestrel::ops {

namespace {

kernels::LrnGeometry geometry(std::string_view op, const Tensor& x, const LrnSpec& spec) {
  KESTREL_CHECK(spec.size >= 1, "{}: size must be at least 1, got {}", op, spec.size);
  KESTREL_CHECK(x.ndim() >= 3, "{}: input must have at least 3 dimensions (N, C, ...), got {}", op,
                x.shape().str());
  KESTREL_CHECK(x.dim(1) <= std::numeric_limits<int32_t>::max(),
                "{}: {} channels exceed i32 indexing (input {})", op, x.dim(1), x.shape().str());
  int64_t inner = 1;
  for (int d = 2; d < x.ndim(); ++d) inner *= x.dim(d);
  return kernels::LrnGeometry{
      static_cast<int>(x.dim(1)), inner, spec.size, spec.alpha, spec.beta, spec.k};
}

}  // namespace

void lrn_forward(const Context& ctx, const Tensor& x, Tensor& y, Tensor& scale,
                 const LrnSpec& spec) {
  NvtxRange range("lrn_forward");
  constexpr std::string_view op = "lrn";
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_tensor(op, "scale", scale, ctx, -1);
  const kernels::LrnGeometry g = geometry(op, x, spec);
  detail::check_shape(op, "output", y, x.shape());
  detail::check_shape(op, "scale", scale, x.shape());
  detail::launch_elementwise(
      ctx, x.numel(), kernels::LrnForward{g, x.data<float>(), y.data<float>(), scale.data<float>()},
      spec.size);
}

void lrn_backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& scale,
                  const Tensor& dy, Tensor& dx, const LrnSpec& spec) {
  NvtxRange range("lrn_backward");
  constexpr std::string_view op = "lrn_backward";
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "output", y, ctx, -1);
  detail::check_tensor(op, "scale", scale, ctx, -1);
  detail::check_tensor(op, "grad_output", dy, ctx, -1);
  detail::check_tensor(op, "grad_input", dx, ctx, -1);
  const kernels::LrnGeometry g = geometry(op, x, spec);
  detail::check_shape(op, "output", y, x.shape());
  detail::check_shape(op, "scale", scale, x.shape());
  detail::check_shape(op, "grad_output", dy, x.shape());
  detail::check_shape(op, "grad_input", dx, x.shape());
  detail::launch_elementwise(
      ctx, x.numel(),
      kernels::LrnBackward{g, x.data<float>(), y.data<float>(), scale.data<float>(),
                           dy.data<float>(), dx.data<float>()},
      spec.size);
}

}  // namespace kestrel::ops
