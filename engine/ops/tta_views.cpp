#include "engine/ops/tta_views.hpp"

#include <cstdlib>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/tta_views.hpp"

namespace kestrel::ops {

void shift_flip(const Context& ctx, const Tensor& x, Tensor& out, int dy, int dx, bool flip) {
  NvtxRange range("shift_flip");
  constexpr std::string_view op = "shift_flip";
  detail::check_tensor(op, "input", x, ctx, 4);
  detail::check_tensor(op, "output", out, ctx, 4);
  detail::check_shape(op, "output", out, x.shape());
  KESTREL_CHECK(!detail::overlap(x, out), "shift_flip: output {} overlaps the input", out.str());
  const int64_t h = x.shape()[2], w = x.shape()[3];
  KESTREL_CHECK(std::abs(dy) < h && std::abs(dx) < w,
                "shift_flip: shift ({}, {}) must be smaller than the image ({}x{})", dy, dx, h, w);
  detail::launch_elementwise(
      ctx, x.numel(),
      kernels::ShiftFlipView{x.data<float>(), out.data<float>(), h, w, dy, dx, flip ? 1 : 0});
}

void add_weighted(const Context& ctx, const Tensor& x, float weight, bool first, Tensor& acc) {
  NvtxRange range("add_weighted");
  constexpr std::string_view op = "add_weighted";
  detail::check_tensor(op, "input", x, ctx, -1);
  detail::check_tensor(op, "accumulator", acc, ctx, -1);
  detail::check_shape(op, "accumulator", acc, x.shape());
  KESTREL_CHECK(!detail::overlap(x, acc), "add_weighted: accumulator {} overlaps the input",
                acc.str());
  detail::launch_elementwise(
      ctx, x.numel(), kernels::AddWeighted{x.data<float>(), acc.data<float>(), weight, first ? 1 : 0});
}

}  // namespace kestrel::ops
