#pragma once
// Classification metrics on logits [N, C] (f32) and labels [N] (i32, each in [0, C)).
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// out[r] = index of the largest logit of row r, the first one on ties (torch.argmax(dim=1));
// NaN counts as the largest. out is [N] i32.
void argmax_rows(const Context& ctx, const Tensor& logits, Tensor& out);

// Rows whose argmax (as above) equals the label: (logits.argmax(1) == labels).sum().
int64_t count_correct(const Context& ctx, const Tensor& logits, const Tensor& labels);

// Rows whose label is among the k largest logits: correct iff fewer than k logits are strictly
// greater than the label's logit. k in [1, C]. On ties this is more lenient than top-1 above
// (k = 1 counts a label tied with an earlier maximum as correct).
int64_t count_correct_topk(const Context& ctx, const Tensor& logits, const Tensor& labels, int k);

// The same per row, left on the device: hits[r] = 1 when row r's label is among its k largest
// logits (as count_correct_topk decides), else 0; hits is [N] i32. Labels are not read on the
// host: a row whose label is outside [0, C) gets 0.
void topk_hits(const Context& ctx, const Tensor& logits, const Tensor& labels, int k, Tensor& hits);

}  // namespace kestrel::ops
