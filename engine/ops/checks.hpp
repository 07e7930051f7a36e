#pragma once
// Argument checks shared by the ops: each failure names the op and the tensors involved.
#include <string_view>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/common/softmax_cross_entropy.hpp"

namespace kestrel::ops::detail {

// `t` is defined, f32 (or `dtype`), on the context's device and has `ndim` dimensions.
void check_tensor(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx,
                  int ndim, DType dtype = DType::F32);
// `t` has exactly `expected` shape.
void check_shape(std::string_view op, std::string_view name, const Tensor& t,
                 const Shape& expected);
// Whether the bytes of `a` and `b` share an address (same device); empty tensors overlap nothing.
bool overlap(const Tensor& a, const Tensor& b);

// The arguments of a softmax-cross-entropy: logits [N, C] f32 with N, C > 0, labels [N] i32,
// label_smoothing in [0, 1], gradient_divisor 0 or >= N. The labels' values are not read.
void check_cross_entropy(std::string_view op, const Context& ctx, const Tensor& logits,
                         const Tensor& labels, const kernels::CrossEntropySpec& spec);

// Every label in [0, classes); names the first bad row. Labels on a GPU are copied to the host
// for the check (N int32s: cheap next to the op that reads them).
void check_labels_in_range(std::string_view op, const Tensor& labels, int64_t classes);

}  // namespace kestrel::ops::detail
