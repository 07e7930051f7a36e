#pragma once
// The training step's loss and hits without a round trip to the host: the fused
// softmax-cross-entropy forward and backward and the top-1 hits of the same logits, summed on
// the device into a kernels::StepTally (the rank's mean loss as cross_entropy_forward_backward
// returns it, times the rows; the hits as count_correct counts them).
//
// Unlike those two ops, nothing is read back to the host, labels included: a label outside
// [0, classes) is not reported here but gives that row a NaN loss, which halts the step ledger
// (train::StepLedger). The training loaders check their labels once, when they are built.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"
#include "kernels/common/step_ledger.hpp"

namespace kestrel::ops {

// logits [N, C] f32, labels [N] i32, dlogits [N, C] f32 or null (overwritten with d(mean
// loss)/d logits, N or spec.gradient_divisor the mean's divisor; null for evaluation); `tally`
// points into device memory of ctx's device.
void cross_entropy_tally(const Context& ctx, const Tensor& logits, const Tensor& labels,
                         Tensor* dlogits, const kernels::CrossEntropySpec& spec,
                         kernels::StepTally* tally);

// The tally of a data-parallel rank with no rows this step: zero loss, zero hits.
void empty_tally(const Context& ctx, kernels::StepTally* tally);

}  // namespace kestrel::ops
