#pragma once
// A parameter-group rule of a training run (TrainConfig::param_groups, `train --param-group`):
// torch.optim's param_groups chosen by name. The trainable parameters a rule's pattern matches
// (the first rule that matches wins; nn::named_group_index) train at the schedule's rate times
// lr_scale, with the optimizer's weight decay times weight_decay_scale, and, with
// train_epochs = N > 0, only for the first N epochs: from epoch N on their rate is 0.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace kestrel::train {

struct ParamGroupRule {
  std::string pattern;              // fnmatch(3) over state_dict names: "block1.*", "*.bias"
  double lr_scale = 1.0;            // >= 0
  double weight_decay_scale = 1.0;  // >= 0
  int64_t train_epochs = 0;         // 0: every epoch

  bool operator==(const ParamGroupRule&) const = default;
};

// "PATTERN" or "PATTERN:KEY=VALUE,KEY=VALUE..." with the keys lr (lr_scale), wd
// (weight_decay_scale) and epochs (train_epochs), each optional and at most once: e.g.
// "conv1.*:lr=64,wd=0.015625,epochs=3". PATTERN ends at the first ':'. Throws kestrel::Error
// with one line naming what is wrong (an empty pattern, an option that is not KEY=VALUE, an
// unknown or repeated key, a value that is not a number >= 0, epochs that are not whole).
ParamGroupRule parse_param_group_rule(std::string_view text);
// The rule as parse_param_group_rule reads it: "conv1.*:lr=64,wd=0.015625,epochs=3".
std::string param_group_rule_str(const ParamGroupRule& rule);

// Throws kestrel::Error, naming the rule, for an empty pattern or an out-of-range value (a
// rule read from an edited config.json).
void check_param_group_rule(const ParamGroupRule& rule);

// {"pattern": ..., "lr_scale": ..., "weight_decay_scale": ..., "train_epochs": ...}; reading
// takes the defaults above for missing keys (the pattern is required).
nlohmann::json param_group_rule_json(const ParamGroupRule& rule);
ParamGroupRule param_group_rule_from_json(const nlohmann::json& j);

}  // namespace kestrel::train
