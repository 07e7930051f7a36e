#include "engine/nn/param_groups.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <string>

#include "kernels/common/optimizers.hpp"

namespace kestrel::nn {

bool exempt_from_weight_decay(const ParamInfo& param) { return param.shape.ndim() <= 1; }

bool name_matches(const std::string& pattern, const std::string& name) {
  return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

Tensor weight_decay_group_index(Graph& graph, Device device) {
  KESTREL_CHECK(graph.built(), "weight_decay_group_index: the graph is not built");
  return named_group_index(graph, {}, true, device);
}

int unmatched_group_count(bool exempt_unmatched) { return exempt_unmatched ? 2 : 1; }

Tensor named_group_index(Graph& graph, const std::vector<std::string>& patterns,
                         bool exempt_unmatched, Device device) {
  KESTREL_CHECK(graph.built(), "named_group_index: the graph is not built");
  const int first = unmatched_group_count(exempt_unmatched);
  const int groups = first + static_cast<int>(patterns.size());
  KESTREL_CHECK(groups <= kernels::kMaxParamGroups,
                "{} parameter group patterns and the unmatched parameters' {} group(s) make {}, "
                "more than the {} supported",
                patterns.size(), first, groups, kernels::kMaxParamGroups);
  Tensor host = Tensor::zeros(Shape{graph.parameters().numel()}, DType::U8, Device::cpu());
  uint8_t* g = host.data<uint8_t>();
  // took[r]: pattern r is the first to match some parameter; matched[r]: a parameter it
  // matches (maybe one an earlier pattern took).
  std::vector<bool> took(patterns.size(), false);
  std::vector<std::string> matched(patterns.size());
  for (const ParamInfo& p : graph.parameter_infos()) {
    int group = exempt_unmatched && exempt_from_weight_decay(p) ? kNoDecayGroup : kDecayGroup;
    bool taken = false;
    for (size_t r = 0; r < patterns.size(); ++r) {
      if (!name_matches(patterns[r], p.name)) continue;
      if (matched[r].empty()) matched[r] = p.name;
      if (taken) continue;
      taken = true;
      took[r] = true;
      group = first + static_cast<int>(r);
    }
    std::fill_n(g + p.offset, p.shape.numel(), static_cast<uint8_t>(group));
  }
  for (size_t r = 0; r < patterns.size(); ++r) {
    if (took[r]) continue;
    KESTREL_CHECK(matched[r].empty(),
                  "parameter group pattern '{}' matches only parameters that an earlier pattern "
                  "took ({}, ...): the first pattern that matches a parameter wins",
                  patterns[r], matched[r]);
    const auto& infos = graph.parameter_infos();
    std::string some;  // a few names, to show what the patterns are matched against
    for (size_t i = 0; i < std::min<size_t>(infos.size(), 4); ++i) {
      some += i == 0 ? "" : ", ";
      some += infos[i].name;
    }
    KESTREL_FAIL(
        "parameter group pattern '{}' matches no trainable parameter (their names are "
        "like {}{}: {} in all)",
        patterns[r], some, infos.size() > 4 ? ", ..." : "", infos.size());
  }
  return device.is_cuda() ? host.to(device) : host;
}

}  // namespace kestrel::nn
