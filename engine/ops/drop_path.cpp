#include "engine/ops/drop_path.hpp"

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/drop_path.hpp"

namespace kestrel::ops {

namespace {

// Both directions apply the same per-sample mask: out = in * mask * scale.
void apply_drop_path(const Context& ctx, const char* op, const char* in_name, const char* out_name,
                     const Tensor& in, Tensor& out, const kernels::DropoutSpec& spec,
                     bool training) {
  detail::check_tensor(op, in_name, in, ctx, -1);
  KESTREL_CHECK(in.ndim() >= 1, "{}: {} must have a batch dimension, got {}", op, in_name,
                in.shape().str());
  detail::check_tensor(op, out_name, out, ctx, -1);
  detail::check_shape(op, out_name, out, in.shape());
  KESTREL_CHECK(spec.p >= 0.0f && spec.p <= 1.0f, "{}: p must be in [0, 1], got {}", op, spec.p);
  KESTREL_CHECK(out.raw_data() == in.raw_data() || !detail::overlap(in, out),
                "{}: {} overlaps {} without being it", op, out_name, in_name);

  if (!training || spec.p == 0.0f) {
    if (out.raw_data() != in.raw_data()) out.copy_from(in);
    return;
  }
  if (in.numel() == 0) return;
  detail::launch_elementwise(
      ctx, in.numel(),
      kernels::ApplyDropPathMask{spec, kernels::dropout_scale(spec.p), in.data<float>(),
                                 out.data<float>(), in.numel() / in.dim(0)});
}

}  // namespace

void drop_path_forward(const Context& ctx, const Tensor& x, Tensor& y,
                       const kernels::DropoutSpec& spec, bool training) {
  NvtxRange range("drop_path_forward");
  apply_drop_path(ctx, "drop_path", "input", "output", x, y, spec, training);
}

void drop_path_backward(const Context& ctx, const Tensor& dy, Tensor& dx,
                        const kernels::DropoutSpec& spec, bool training) {
  NvtxRange range("drop_path_backward");
  apply_drop_path(ctx, "drop_path_backward", "grad_output", "grad_input", dy, dx, spec, training);
}

}  // namespace kestrel::ops
