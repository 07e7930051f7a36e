#pragma once
// drop_path: torchvision.ops.stochastic_depth(x, p, mode="row", training). In training every
// sample (x's first dimension) is zeroed whole with probability p and the others are scaled by
// 1 / (1 - p); in evaluation (or with p == 0) y = x. Sample n's fate is drawn from Philox at
// (spec.seed, spec.effective_stream(), n), as dropout's element n (kernels/common/drop_path.hpp),
// so forward and backward must get the same spec. In place (y is x, dx is dy) allowed.
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/dropout.hpp"

namespace kestrel::ops {

void drop_path_forward(const Context& ctx, const Tensor& x, Tensor& y,
                       const kernels::DropoutSpec& spec, bool training);
// dx = dy * mask / (1 - p) with the forward's mask; dx = dy when not training or p == 0.
void drop_path_backward(const Context& ctx, const Tensor& dy, Tensor& dx,
                        const kernels::DropoutSpec& spec, bool training);

}  // namespace kestrel::ops
