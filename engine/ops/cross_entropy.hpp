#pragma once
// cross_entropy (PyTorch's F.cross_entropy, reduction "mean", with label_smoothing): softmax
// and negative log-likelihood fused, forward and backward in one pass over the logits.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"

namespace kestrel::ops {

using kernels::CrossEntropySpec;

// Returns the mean over the batch of the per-sample losses for logits [N, C] (f32) and labels
// [N] (i32, each in [0, C)). When dlogits is not null it receives d(mean loss)/d(logits),
// [N, C], overwritten; it may be logits itself (in place). spec.gradient_divisor, when set,
// replaces N as the divisor of the gradient (the returned loss stays the mean over N rows). Per-row
// losses are summed in row order, so the result does not depend on the thread count.
float cross_entropy_forward_backward(const Context& ctx, const Tensor& logits, const Tensor& labels,
                                     Tensor* dlogits, const CrossEntropySpec& spec = {});

}  // namespace kestrel::ops
