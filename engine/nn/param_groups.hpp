#pragma once
// Parameter groups as PyTorch users build param_groups, as one u8 group index over the built
// graph's flat parameter buffer (the optimizer's fused update reads it; optim::ParamGroups).
//
// The weight-decay groups of `train --no-decay-norm-bias`: decay for convolution and linear
// weights, none for biases and normalisation weights. The rule is timm's
// (optim_factory.param_groups_weight_decay): a trainable parameter with at most one dimension
// (every bias, batch norm's weight and bias) goes without decay.
//
// The named groups of `train --param-group PATTERN:...`: a trainable parameter joins the group
// of the first pattern that matches its state_dict name ("block1.norm1.bias"), as fnmatch(3)
// without flags matches: `*` also matches dots, so "*.bias" is every bias and "conv1.*" both of
// conv1's tensors.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/graph.hpp"

namespace kestrel::nn {

inline constexpr uint8_t kDecayGroup = 0;
inline constexpr uint8_t kNoDecayGroup = 1;

// Whether the rule above exempts this parameter from weight decay.
bool exempt_from_weight_decay(const ParamInfo& param);

// Whether `pattern` (fnmatch(3), no flags) matches the parameter name `name`.
bool name_matches(const std::string& pattern, const std::string& name);

// One u8 per element of the built graph's flat parameter buffer, on `device`: kNoDecayGroup
// for the elements of exempt parameters, kDecayGroup elsewhere (the alignment padding too:
// it stays zero either way). Built once; the optimizer's fused update reads it.
Tensor weight_decay_group_index(Graph& graph, Device device);

// The groups the parameters no pattern matches make: 1 (kDecayGroup), or 2 with
// `exempt_unmatched` (kDecayGroup and kNoDecayGroup). patterns[r]'s group comes after them.
int unmatched_group_count(bool exempt_unmatched);

// One u8 per element as above: a parameter joins group unmatched_group_count + r for the first
// of `patterns` (r) that matches its name; one that none matches joins kDecayGroup, or, with
// `exempt_unmatched`, kNoDecayGroup when exempt_from_weight_decay (the padding: kDecayGroup).
// With no patterns it is weight_decay_group_index's index (or all kDecayGroup). Throws
// kestrel::Error, naming the pattern, for one that matches no trainable parameter (a typo
// would otherwise train as if it were not there) or only parameters an earlier pattern took,
// and for more groups than kernels::kMaxParamGroups.
Tensor named_group_index(Graph& graph, const std::vector<std::string>& patterns,
                         bool exempt_unmatched, Device device);

}  // namespace kestrel::nn
