#include "engine/train/param_group_rule.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "kernels/common/error.hpp"

namespace kestrel::train {

namespace {

// The whole of `text` as a finite number >= 0 (no sign: "-0" is refused too), or an error
// naming `key`.
double parse_scale(std::string_view rule, std::string_view key, std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  KESTREL_CHECK(!text.empty() && text.front() != '-' && error == std::errc() &&
                    end == text.data() + text.size() && std::isfinite(value),
                "parameter group rule '{}': {}={} is not a number >= 0", rule, key, text);
  return value;
}

int64_t parse_epochs(std::string_view rule, std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  KESTREL_CHECK(!text.empty() && text.front() != '-' && error == std::errc() &&
                    end == text.data() + text.size(),
                "parameter group rule '{}': epochs={} is not a whole number >= 0", rule, text);
  return value;
}

}  // namespace

ParamGroupRule parse_param_group_rule(std::string_view text) {
  ParamGroupRule rule;
  const size_t colon = text.find(':');
  rule.pattern = std::string(text.substr(0, colon));
  KESTREL_CHECK(!rule.pattern.empty(),
                "parameter group rule '{}': no pattern before ':' (expected "
                "PATTERN[:lr=X,wd=Y,epochs=N])",
                text);
  if (colon == std::string_view::npos) return rule;
  bool seen[3] = {false, false, false};
  std::string_view options = text.substr(colon + 1);
  while (true) {
    const size_t comma = options.find(',');
    const std::string_view option = options.substr(0, comma);
    const size_t eq = option.find('=');
    KESTREL_CHECK(eq != std::string_view::npos && eq > 0,
                  "parameter group rule '{}': '{}' is not KEY=VALUE (keys: lr, wd, epochs)", text,
                  option);
    const std::string_view key = option.substr(0, eq), value = option.substr(eq + 1);
    const int k = key == "lr" ? 0 : key == "wd" ? 1 : key == "epochs" ? 2 : -1;
    KESTREL_CHECK(k >= 0, "parameter group rule '{}': unknown key '{}' (keys: lr, wd, epochs)",
                  text, key);
    KESTREL_CHECK(!seen[k], "parameter group rule '{}': {} is given twice", text, key);
    seen[k] = true;
    if (k == 0) rule.lr_scale = parse_scale(text, key, value);
    if (k == 1) rule.weight_decay_scale = parse_scale(text, key, value);
    if (k == 2) rule.train_epochs = parse_epochs(text, value);
    if (comma == std::string_view::npos) break;
    options = options.substr(comma + 1);
  }
  return rule;
}

std::string param_group_rule_str(const ParamGroupRule& rule) {
  return fmt::format("{}:lr={},wd={},epochs={}", rule.pattern, rule.lr_scale,
                     rule.weight_decay_scale, rule.train_epochs);
}

void check_param_group_rule(const ParamGroupRule& rule) {
  const auto scale = [](double s) { return std::isfinite(s) && s >= 0.0; };
  KESTREL_CHECK(!rule.pattern.empty() && rule.pattern.find(':') == std::string::npos &&
                    scale(rule.lr_scale) && scale(rule.weight_decay_scale) &&
                    rule.train_epochs >= 0,
                "parameter group rule '{}': the pattern must be non-empty without ':', the "
                "scales numbers >= 0 and the epochs >= 0",
                param_group_rule_str(rule));
}

nlohmann::json param_group_rule_json(const ParamGroupRule& rule) {
  return {{"pattern", rule.pattern},
          {"lr_scale", rule.lr_scale},
          {"weight_decay_scale", rule.weight_decay_scale},
          {"train_epochs", rule.train_epochs}};
}

ParamGroupRule param_group_rule_from_json(const nlohmann::json& j) {
  ParamGroupRule rule;
  rule.pattern = j.at("pattern");
  rule.lr_scale = j.value("lr_scale", rule.lr_scale);
  rule.weight_decay_scale = j.value("weight_decay_scale", rule.weight_decay_scale);
  rule.train_epochs = j.value("train_epochs", rule.train_epochs);
  return rule;
}

}  // namespace kestrel::train
