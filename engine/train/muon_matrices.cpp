#include "engine/train/muon_matrices.hpp"

#include <string_view>

#include "kernels/common/error.hpp"

namespace kestrel::train {

std::vector<optim::MuonMatrix> muon_matrices(const nn::Graph& graph) {
  std::vector<optim::MuonMatrix> out;
  for (const nn::ParamInfo& p : graph.parameter_infos()) {
    const std::string_view name = p.name;
    if (p.shape.ndim() < 2 || !name.ends_with("weight")) continue;
    const int64_t rows = p.shape[0];
    out.push_back({.offset = p.offset, .rows = rows, .cols = p.shape.numel() / rows});
  }
  KESTREL_CHECK(out.size() >= 2,
                "--optimizer muon: the model has no weight matrix besides its classifier");
  out.pop_back();  // the classifier
  return out;
}

}  // namespace kestrel::train
