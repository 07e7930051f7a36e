#pragma once
// Concatenation along the channel dimension (torch.cat(inputs, dim=1)), for Inception- and
// DenseNet-style branches. Each input is [N, C_i, ...] (rank >= 2, every dimension but the
// channels equal); the output is [N, C_0 + C_1 + ..., ...]. One launch per input copies its
// channel slice (see kernels/common/concat.hpp), so any number of inputs works without a limit
// on a functor's operands and each element is read and written once; the backward copies the
// slices back out (a gather, no atomics), so both are exact and deterministic.
#include <cstdint>
#include <span>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

// out = cat(inputs, dim=1). One input is a copy. An input may appear more than once
// (cat(x, x)); out must not overlap any input.
void concat_channels_forward(const Context& ctx, std::span<const Tensor> inputs, Tensor& out);

// Overwrites each non-null dinputs[i] with its channel slice of dout (it has input i's shape);
// null entries are skipped. The slices are placed by the non-null entries' channel counts:
// with one null entry, its channel count is dout's minus the others'; with several, every
// non-null entry must come before the first null or after the last one (an entry between two
// nulls cannot be placed: that is an error, use the overload below). Non-null entries must not
// overlap dout or each other: an input that appeared twice (cat(x, x)) gets one gradient
// tensor per appearance, summed afterwards with accumulate (engine/ops/add.hpp).
void concat_channels_backward(const Context& ctx, const Tensor& dout,
                              std::span<Tensor* const> dinputs);

// The same with every input's channel count given (channels[i] = C_i, summing to dout's), so
// that any entries may be null.
void concat_channels_backward(const Context& ctx, const Tensor& dout,
                              std::span<const int64_t> channels, std::span<Tensor* const> dinputs);

}  // namespace kestrel::ops
