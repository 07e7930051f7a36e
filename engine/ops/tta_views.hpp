#pragma once
// The ops behind test-time augmentation (engine/train/tta.hpp): a shifted, mirrored view of a
// batch, and the weighted sum of the views' logits (kernels/common/tta_views.hpp says exactly).
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// out = x shifted by (dy, dx) with reflection at the borders, then mirrored left-right when
// `flip`. x and out: f32 [B, C, H, W] of one shape on ctx's device, not overlapping;
// |dy| < H and |dx| < W.
void shift_flip(const Context& ctx, const Tensor& x, Tensor& out, int dy, int dx, bool flip);

// acc = weight * x when `first`, else acc += weight * x. Same shape, f32, no overlap.
void add_weighted(const Context& ctx, const Tensor& x, float weight, bool first, Tensor& acc);

}  // namespace kestrel::ops
