// Eval-time folding (Graph::set_eval_folding): which pairs of nodes fold in this plan.
#include "engine/nn/graph.hpp"

namespace kestrel::nn {

void Graph::set_eval_folding(bool fold) {
  eval_folding_ = fold;
  planned_ = built_ = forward_done_ = false;
}

std::vector<std::pair<int, int>> Graph::folded_pairs() const {
  check_planned("folded_pairs");
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < size(); ++i)
    if (nodes_[static_cast<size_t>(i)].fold_into >= 0)
      out.emplace_back(i, nodes_[static_cast<size_t>(i)].fold_into);
  return out;
}

void Graph::plan_eval_folds() {
  fold_numel_ = 0;
  for (Node& n : nodes_) n.fold_into = n.fold_from = -1;
  if (!eval_folding_ || keep_activations_) return;
  for (int i = 0; i < size(); ++i) {
    Node& first = nodes_[static_cast<size_t>(i)];
    const Value& out = values_[static_cast<size_t>(i + 1)];
    // One-input layers only, whose output has one reader, a one-input layer (not the output).
    if (first.inputs.size() != 1 || out.readers.size() != 1 || i + 1 == last_value()) continue;
    const int j = out.readers[0].first;
    Node& next = nodes_[static_cast<size_t>(j)];
    if (next.inputs.size() != 1 || next.fold_from >= 0) continue;
    const int64_t numel = first.layer->eval_fold_numel(*next.layer);
    if (numel <= 0) continue;
    // The folded pass reads the first node's input at the second node's turn: the plan must
    // keep that memory untouched until then (it does when the first node's backward reads its
    // input; the images are the caller's and always are).
    const Value& x = values_[static_cast<size_t>(first.inputs[0])];
    if (x.block >= 0 && blocks_[static_cast<size_t>(x.block)].last < j) continue;
    first.fold_into = j;
    next.fold_from = i;
    next.fold_offset = fold_numel_;
    // Each pair's scratch starts aligned, like the parameters.
    fold_numel_ += (numel + kParamAlignment - 1) / kParamAlignment * kParamAlignment;
  }
}

}  // namespace kestrel::nn
