#pragma once
// The weight-decay groups of `train --no-decay-norm-bias`, as PyTorch users build two
// param_groups: decay for convolution and linear weights, none for biases and normalisation
// weights. The rule is timm's (optim_factory.param_groups_weight_decay): a trainable parameter
// with at most one dimension (every bias, batch norm's weight and bias) goes without decay.
#include <cstdint>

#include "engine/nn/graph.hpp"

namespace kestrel::nn {

inline constexpr uint8_t kDecayGroup = 0;
inline constexpr uint8_t kNoDecayGroup = 1;

// Whether the rule above exempts this parameter from weight decay.
bool exempt_from_weight_decay(const ParamInfo& param);

// One u8 per element of the built graph's flat parameter buffer, on `device`: kNoDecayGroup
// for the elements of exempt parameters, kDecayGroup elsewhere (the alignment padding too:
// it stays zero either way). Built once; the optimizer's fused update reads it.
Tensor weight_decay_group_index(Graph& graph, Device device);

}  // namespace kestrel::nn
