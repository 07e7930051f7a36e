#include "engine/ops/add.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/add.hpp"

namespace kestrel::ops {

void add_forward(const Context& ctx, std::span<const Tensor> inputs, Tensor& out) {
  NvtxRange range("add_forward");
  constexpr std::string_view op = "add";
  KESTREL_CHECK(inputs.size() >= 2, "add: needs at least 2 inputs, got {}", inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::string name = fmt::format("input {}", k);
    detail::check_tensor(op, name, inputs[k], ctx, -1);
    detail::check_shape(op, name, inputs[k], inputs[0].shape());
  }
  detail::check_tensor(op, "output", out, ctx, -1);
  detail::check_shape(op, "output", out, inputs[0].shape());
  KESTREL_CHECK(!detail::overlap(out, inputs[0]) || out.raw_data() == inputs[0].raw_data(),
                "add: output {} partially overlaps input 0 (in place, the output must be input 0 "
                "itself)",
                out.str());
  for (size_t k = 1; k < inputs.size(); ++k)
    KESTREL_CHECK(!detail::overlap(out, inputs[k]),
                  "add: output {} overlaps input {} (only input 0 may be the output)", out.str(),
                  k);

  // The first launch sums up to kMaxSumOperands inputs into out; each later one adds the next
  // inputs to out, continuing the left-to-right chain.
  float* y = out.data<float>();
  size_t next = 0;
  while (next < inputs.size()) {
    kernels::SumOperands f{};
    f.out = y;
    f.count = 0;
    if (next > 0) f.in[f.count++] = y;
    while (f.count < kernels::kMaxSumOperands && next < inputs.size())
      f.in[f.count++] = inputs[next++].data<float>();
    detail::launch_elementwise(ctx, out.numel(), f, f.count);
  }
}

void accumulate(const Context& ctx, const Tensor& src, Tensor& dst) {
  NvtxRange range("accumulate");
  constexpr std::string_view op = "accumulate";
  detail::check_tensor(op, "src", src, ctx, -1);
  detail::check_tensor(op, "dst", dst, ctx, -1);
  detail::check_shape(op, "dst", dst, src.shape());
  KESTREL_CHECK(!detail::overlap(src, dst), "accumulate: dst {} overlaps src", dst.str());
  detail::launch_elementwise(ctx, dst.numel(),
                             kernels::AccumulateInto{src.data<float>(), dst.data<float>()});
}

}  // namespace kestrel::ops
