#include "engine/ops/bf16_operands.hpp"

#include "engine/ops/dispatch.hpp"
#include "kernels/common/bf16.hpp"

namespace kestrel::ops::detail {

Tensor rounded_to_bf16(const Context& ctx, const Tensor& x) {
  Tensor r = ctx.scratch(x.shape());
  launch_elementwise(ctx, x.numel(), kernels::RoundToBf16{x.data<float>(), r.data<float>()});
  return r;
}

void round_to_bf16_in_place(const Context& ctx, Tensor& y, const Tensor* bias,
                            const PlaneLayout& layout) {
  launch_elementwise(ctx, y.numel(),
                     kernels::RoundToBf16{y.data<float>(), y.data<float>(),
                                          bias != nullptr ? bias->data<float>() : nullptr,
                                          layout.channels, layout.plane});
}

Tensor packed_bf16(const Context& ctx, const Tensor& x, const PlaneLayout& layout,
                   bool channels_last) {
  Tensor packed = ctx.scratch(Shape{x.numel()}, DType::BF16);
  launch_elementwise(ctx, x.numel(),
                     kernels::PackBf16{x.data<float>(), packed.data<uint16_t>(), layout.channels,
                                       layout.plane, channels_last});
  return packed;
}

Tensor bf16_result(const Context& ctx, const Tensor& like) {
  return ctx.scratch(Shape{like.numel()}, DType::BF16);
}

void unpack_bf16(const Context& ctx, const Tensor& packed, Tensor& y, const Tensor* bias,
                 const PlaneLayout& layout, bool channels_last) {
  KESTREL_CHECK(packed.numel() == y.numel(), "unpack_bf16: {} packed elements for {}",
                packed.numel(), y.str());
  launch_elementwise(ctx, y.numel(),
                     kernels::UnpackBf16{packed.data<uint16_t>(), y.data<float>(),
                                         bias != nullptr ? bias->data<float>() : nullptr,
                                         layout.channels, layout.plane, channels_last});
}

}  // namespace kestrel::ops::detail
