#pragma once
// Lookahead averaging of the weights as airbench94 trains with it (`train --lookahead DECAY`):
// after every `every`-th optimizer step n (n = every, 2 every, ... of T in the run),
//   slow = lerp(slow, fast, 1 - d_n),  fast = slow,   d_n = decay^every * (n / T)^3
// over the trainable parameters and the f32 buffers (batch norm's running statistics: what
// airbench's LookaheadState lerps, every float tensor of the state_dict). d_n grows from 0 to
// decay^every, so early training is plain SGD and the last epochs average strongly; at the end
// of the run the model takes the slow weights (finish). Frozen parameters never change and are
// left out. The slow copy starts as the weights; checkpoints keep it under "lookahead.".
#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/graph.hpp"
#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::train {

class Lookahead {
 public:
  // decay in (0, 1), every >= 1; throws kestrel::Error otherwise.
  Lookahead(double decay, int64_t every);

  // d_n above, in double, for step n of `total` (n in [1, total]).
  static double decay_at(double decay, int64_t every, int64_t n, int64_t total);

  // The slow copy starts as the graph's weights and f32 buffers.
  void start(const Context& ctx, nn::Graph& graph);
  // After optimizer step n (1-based) of `total`: pulls when n is a multiple of `every`. `skip`:
  // the step ledger's halt flag (or null), as the optimizer reads it.
  void after_step(const Context& ctx, nn::Graph& graph, int64_t n, int64_t total,
                  const int32_t* skip);
  // The end of the run: the model takes the slow weights (airbench's final update(decay=1)).
  void finish(const Context& ctx, nn::Graph& graph);

  // The slow copy by name (the parameters' and buffers' own names), for checkpoints; and
  // restoring it (every name start() covers must be present, shapes as the graph's).
  std::vector<nn::NamedTensor> slow_tensors(const nn::Graph& graph) const;

  double decay() const { return decay_; }
  int64_t every() const { return every_; }

 private:
  // The live tensors the slow copy mirrors: the flat parameters, then each f32 buffer.
  std::vector<Tensor> live_tensors(nn::Graph& graph) const;
  void pull(const Context& ctx, nn::Graph& graph, float weight, const int32_t* skip);

  double decay_;
  int64_t every_;
  Tensor slow_params_;               // flat like Graph::parameters()
  std::vector<Tensor> slow_buffers_;  // one per f32 buffer, in state order
};

}  // namespace kestrel::train
