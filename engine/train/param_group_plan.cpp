#include "engine/train/param_group_plan.hpp"

#include <string>

#include "engine/nn/param_groups.hpp"
#include "kernels/common/optimizers.hpp"

namespace kestrel::train {

ParamGroupPlan plan_param_groups(const std::vector<ParamGroupRule>& rules, bool no_decay_norm_bias,
                                 nn::Graph& graph, Device device) {
  ParamGroupPlan plan;
  if (rules.empty() && !no_decay_norm_bias) return plan;
  const size_t unmatched = static_cast<size_t>(nn::unmatched_group_count(no_decay_norm_bias));
  KESTREL_CHECK(unmatched + rules.size() <= static_cast<size_t>(kernels::kMaxParamGroups),
                "{} parameter group rule(s) make {} groups, more than the {} supported: the "
                "parameters no rule matches are one group{}",
                rules.size(), unmatched + rules.size(), kernels::kMaxParamGroups,
                no_decay_norm_bias ? ", two with --no-decay-norm-bias" : "");
  std::vector<std::string> patterns;
  for (const ParamGroupRule& r : rules) patterns.push_back(r.pattern);
  plan.groups.index = nn::named_group_index(graph, patterns, no_decay_norm_bias, device);
  // The unmatched parameters: decayed (group 0), and exempt (group 1) with the flag.
  plan.groups.weight_decay_scale = {1.0};
  if (no_decay_norm_bias) plan.groups.weight_decay_scale.push_back(0.0);
  plan.train_epochs.assign(plan.groups.weight_decay_scale.size(), 0);
  // Without rules the rates stay the optimizer's: lr_scale empty, as before rules existed.
  if (!rules.empty()) plan.groups.lr_scale.assign(plan.groups.weight_decay_scale.size(), 1.0);
  for (const ParamGroupRule& r : rules) {
    plan.groups.weight_decay_scale.push_back(r.weight_decay_scale);
    plan.groups.lr_scale.push_back(r.lr_scale);
    plan.train_epochs.push_back(r.train_epochs);
  }
  return plan;
}

void set_epoch_lr_scales(optim::Optimizer& optimizer, const ParamGroupPlan& plan, int64_t epoch) {
  for (size_t k = 0; k < plan.train_epochs.size(); ++k) {
    if (plan.train_epochs[k] == 0) continue;
    optimizer.set_group_lr_scale(static_cast<int>(k),
                                 epoch < plan.train_epochs[k] ? plan.groups.lr_scale[k] : 0.0);
  }
}

}  // namespace kestrel::train
