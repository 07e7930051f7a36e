#pragma once
// What a run's parameter-group rules (TrainConfig::param_groups) and --no-decay-norm-bias make
// of its model: the optimizer's groups, built once, and each group's learning-rate scale for
// each epoch.
//
// Group 0 holds the parameters no rule matches, at the optimizer's own rate and weight decay.
// With --no-decay-norm-bias those of them with at most one dimension form group 1, without
// weight decay (its exemption applies only to unmatched parameters: a rule says what its own
// parameters' decay is). Rule r is the next group. At most kernels::kMaxParamGroups in all.
#include <cstdint>
#include <vector>

#include "engine/nn/graph.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/param_group_rule.hpp"

namespace kestrel::train {

struct ParamGroupPlan {
  optim::ParamGroups groups;          // index undefined: one group (no rules, no exemption)
  std::vector<int64_t> train_epochs;  // per group: its rule's (0: every epoch)
};

// Throws kestrel::Error for too many groups or a rule that matches no trainable parameter
// (nn::named_group_index).
ParamGroupPlan plan_param_groups(const std::vector<ParamGroupRule>& rules, bool no_decay_norm_bias,
                                 nn::Graph& graph, Device device);

// Before epoch `epoch` (0-based, also the first epoch of a resumed run): each group's rate scale
// for that epoch: its rule's while epoch < train_epochs (or always when 0), else 0, so that the
// group no longer changes (SGD, Adam and AdamW leave a parameter as it is at rate 0; their
// state still follows its gradient, as torch's does at lr 0).
void set_epoch_lr_scales(optim::Optimizer& optimizer, const ParamGroupPlan& plan, int64_t epoch);

}  // namespace kestrel::train
