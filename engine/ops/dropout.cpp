#include "engine/ops/dropout.hpp"

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"

namespace kestrel::ops {

namespace {

// Both directions apply the same mask: out = in * mask * scale.
void apply_dropout(const Context& ctx, const char* op, const char* in_name, const char* out_name,
                   const Tensor& in, Tensor& out, const DropoutSpec& spec, bool training) {
  detail::check_tensor(op, in_name, in, ctx, -1);
  detail::check_tensor(op, out_name, out, ctx, -1);
  detail::check_shape(op, out_name, out, in.shape());
  KESTREL_CHECK(spec.p >= 0.0f && spec.p <= 1.0f, "{}: p must be in [0, 1], got {}", op, spec.p);

  if (!training || spec.p == 0.0f) {
    // Identity: copy unless in place.
    if (out.raw_data() != in.raw_data()) out.copy_from(in);
    return;
  }
  // A call draws one Philox block (ten rounds) for four elements.
  detail::launch_elementwise(ctx, kernels::dropout_blocks(in.numel()),
                             kernels::ApplyDropoutMask{spec, kernels::dropout_scale(spec.p),
                                                       in.data<float>(), out.data<float>(),
                                                       in.numel()},
                             /*work_per_element=*/16);
}

}  // namespace

void dropout_forward(const Context& ctx, const Tensor& x, Tensor& y, const DropoutSpec& spec,
                     bool training) {
  NvtxRange range("dropout_forward");
  apply_dropout(ctx, "dropout", "input", "output", x, y, spec, training);
}

void dropout_backward(const Context& ctx, const Tensor& dy, Tensor& dx, const DropoutSpec& spec,
                      bool training) {
  NvtxRange range("dropout_backward");
  apply_dropout(ctx, "dropout_backward", "grad_output", "grad_input", dy, dx, spec, training);
}

}  // namespace kestrel::ops
