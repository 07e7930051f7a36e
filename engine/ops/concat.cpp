#include "engine/ops/concat.hpp"

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/concat.hpp"
#include "kernels/cpu/copy_rows.hpp"

namespace kestrel::ops {

namespace {

constexpr std::string_view kForward = "concat_channels";
constexpr std::string_view kBackward = "concat_channels_backward";

// Elements per channel of one sample: the product of the dimensions after the channels.
int64_t inner_size(const Shape& s) {
  int64_t inner = 1;
  for (int d = 2; d < s.ndim(); ++d) inner *= s[d];
  return inner;
}

// `t` has `reference`'s rank and dimensions, the channels (dimension 1) aside.
void check_same_outside_channels(std::string_view op, const std::string& name, const Tensor& t,
                                 std::string_view reference_name, const Shape& reference) {
  bool same = t.ndim() == reference.ndim();
  for (int d = 0; same && d < t.ndim(); ++d) same = d == 1 || t.dim(d) == reference[d];
  KESTREL_CHECK(same, "{}: {} has shape {}, which differs from {}'s {} outside dimension 1", op,
                name, t.shape().str(), reference_name, reference.str());
}

// The rows of a tensor [N, C, ...] for CopyRowSlices: N rows of C * inner elements.
struct Rows {
  int64_t count, length;
};
Rows rows_of(const Tensor& t) { return Rows{t.dim(0), t.dim(1) * inner_size(t.shape())}; }

// `rows` rows of copy.slice elements: the element launch on a GPU, a memcpy per row on the host.
void copy_rows(const Context& ctx, int64_t rows, const kernels::CopyRowSlices& copy) {
  if (rows * copy.slice == 0) return;
  if (ctx.is_cuda()) {
    detail::launch_elementwise(ctx, rows * copy.slice, copy);
    return;
  }
  cpu::copy_row_slices(copy, rows);
}

// Copies `part`'s rows into the channels starting at `channel_offset` of `whole`'s rows
// (forward), or those channels of `whole` into `part` (backward).
void copy_into_whole(const Context& ctx, const Tensor& part, Tensor& whole,
                     int64_t channel_offset) {
  const Rows p = rows_of(part), w = rows_of(whole);
  const int64_t offset = channel_offset * inner_size(whole.shape());
  copy_rows(ctx, p.count,
            kernels::CopyRowSlices{part.data<float>(), whole.data<float>(), p.length, p.length, 0,
                                   w.length, offset});
}

void copy_from_whole(const Context& ctx, const Tensor& whole, int64_t channel_offset,
                     Tensor& part) {
  const Rows p = rows_of(part), w = rows_of(whole);
  const int64_t offset = channel_offset * inner_size(whole.shape());
  copy_rows(ctx, p.count,
            kernels::CopyRowSlices{whole.data<float>(), part.data<float>(), p.length, w.length,
                                   offset, p.length, 0});
}

std::string nth(std::string_view what, size_t k) { return fmt::format("{} {}", what, k); }

}  // namespace

void concat_channels_forward(const Context& ctx, std::span<const Tensor> inputs, Tensor& out) {
  NvtxRange range("concat_channels_forward");
  const std::string_view op = kForward;
  KESTREL_CHECK(!inputs.empty(), "{}: needs at least 1 input, got none", op);
  detail::check_tensor(op, "input 0", inputs[0], ctx, -1);
  KESTREL_CHECK(inputs[0].ndim() >= 2,
                "{}: input 0 must have at least 2 dimensions (N, C, ...), got {}", op,
                inputs[0].shape().str());
  Shape expected = inputs[0].shape();
  expected[1] = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const std::string name = nth("input", k);
    detail::check_tensor(op, name, inputs[k], ctx, -1);
    check_same_outside_channels(op, name, inputs[k], "input 0", inputs[0].shape());
    expected[1] += inputs[k].dim(1);
  }
  detail::check_tensor(op, "output", out, ctx, -1);
  detail::check_shape(op, "output", out, expected);
  for (size_t k = 0; k < inputs.size(); ++k)
    KESTREL_CHECK(!detail::overlap(out, inputs[k]), "{}: output {} overlaps input {}", op,
                  out.str(), k);

  int64_t offset = 0;
  for (const Tensor& input : inputs) {
    copy_into_whole(ctx, input, out, offset);
    offset += input.dim(1);
  }
}

void concat_channels_backward(const Context& ctx, const Tensor& dout,
                              std::span<const int64_t> channels, std::span<Tensor* const> dinputs) {
  NvtxRange range("concat_channels_backward");
  const std::string_view op = kBackward;
  detail::check_tensor(op, "grad_output", dout, ctx, -1);
  KESTREL_CHECK(dout.ndim() >= 2,
                "{}: grad_output must have at least 2 dimensions (N, C, ...), got {}", op,
                dout.shape().str());
  KESTREL_CHECK(!dinputs.empty(), "{}: needs at least 1 grad_input entry, got none", op);
  KESTREL_CHECK(channels.size() == dinputs.size(), "{}: {} channel counts for {} grad_inputs", op,
                channels.size(), dinputs.size());
  int64_t total = 0;
  for (size_t k = 0; k < channels.size(); ++k) {
    KESTREL_CHECK(channels[k] >= 0, "{}: channel count {} of input {} is negative", op, channels[k],
                  k);
    total += channels[k];
  }
  KESTREL_CHECK(total == dout.dim(1),
                "{}: the inputs' channel counts sum to {} but grad_output {} has {} channels", op,
                total, dout.shape().str(), dout.dim(1));
  for (size_t k = 0; k < dinputs.size(); ++k) {
    if (dinputs[k] == nullptr) continue;
    const std::string name = nth("grad_input", k);
    const Tensor& d = *dinputs[k];
    detail::check_tensor(op, name, d, ctx, -1);
    check_same_outside_channels(op, name, d, "grad_output", dout.shape());
    KESTREL_CHECK(d.dim(1) == channels[k], "{}: {} has shape {}, expected {} channels", op, name,
                  d.shape().str(), channels[k]);
    KESTREL_CHECK(!detail::overlap(d, dout), "{}: {} {} overlaps grad_output", op, name, d.str());
    for (size_t j = 0; j < k; ++j)
      KESTREL_CHECK(dinputs[j] == nullptr || !detail::overlap(d, *dinputs[j]),
                    "{}: grad_input {} and grad_input {} overlap (an input used twice needs one "
                    "gradient per use, summed with accumulate)",
                    op, j, k);
  }

  int64_t offset = 0;
  for (size_t k = 0; k < dinputs.size(); ++k) {
    if (dinputs[k] != nullptr) copy_from_whole(ctx, dout, offset, *dinputs[k]);
    offset += channels[k];
  }
}

void concat_channels_backward(const Context& ctx, const Tensor& dout,
                              std::span<Tensor* const> dinputs) {
  const std::string_view op = kBackward;
  detail::check_tensor(op, "grad_output", dout, ctx, -1);
  KESTREL_CHECK(dout.ndim() >= 2,
                "{}: grad_output must have at least 2 dimensions (N, C, ...), got {}", op,
                dout.shape().str());
  // The non-null entries' channel counts; the null entries' are worked out from them.
  std::vector<int64_t> channels(dinputs.size(), 0);
  std::vector<size_t> nulls;
  int64_t known = 0;
  for (size_t k = 0; k < dinputs.size(); ++k) {
    if (dinputs[k] == nullptr) {
      nulls.push_back(k);
      continue;
    }
    detail::check_tensor(op, nth("grad_input", k), *dinputs[k], ctx, -1);
    check_same_outside_channels(op, nth("grad_input", k), *dinputs[k], "grad_output", dout.shape());
    channels[k] = dinputs[k]->dim(1);
    known += channels[k];
  }
  if (!nulls.empty()) {
    KESTREL_CHECK(known <= dout.dim(1),
                  "{}: the grad_inputs have {} channels in all, more than grad_output {}", op,
                  known, dout.shape().str());
    for (size_t k = nulls.front() + 1; k < nulls.back(); ++k)
      KESTREL_CHECK(dinputs[k] == nullptr,
                    "{}: grad_input {} lies between the null entries {} and {}, whose channel "
                    "counts are unknown: pass every input's channel count",
                    op, k, nulls.front(), nulls.back());
    // The null entries are one run: all of the missing channels go to its first entry.
    channels[nulls.front()] = dout.dim(1) - known;
  }
  concat_channels_backward(ctx, dout, channels, dinputs);
}

}  // namespace kestrel::ops
