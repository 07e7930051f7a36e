#include "engine/nn/param_groups.hpp"

#include <algorithm>

namespace kestrel::nn {

bool exempt_from_weight_decay(const ParamInfo& param) { return param.shape.ndim() <= 1; }

Tensor weight_decay_group_index(Graph& graph, Device device) {
  KESTREL_CHECK(graph.built(), "weight_decay_group_index: the graph is not built");
  Tensor host = Tensor::zeros(Shape{graph.parameters().numel()}, DType::U8, Device::cpu());
  uint8_t* g = host.data<uint8_t>();
  for (const ParamInfo& p : graph.parameter_infos())
    if (exempt_from_weight_decay(p)) std::fill_n(g + p.offset, p.shape.numel(), kNoDecayGroup);
  return device.is_cuda() ? host.to(device) : host;
}

}  // namespace kestrel::nn
