#pragma once
// One training step as the trainer takes it: forward, count the correct rows, fused
// softmax-cross-entropy forward and backward, then (when the loss is finite) backward through
// the graph, optional gradient clipping and the optimizer's update. The trainer and
// `kestrel bench` both run exactly this, so the benchmark times what training does.
#include <cstdint>

#include "engine/nn/graph.hpp"
#include "engine/optim/optimizer.hpp"

namespace kestrel::train {

struct StepOptions {
  float label_smoothing = 0.0f;
  float clip_norm = 0.0f;  // 0: no clipping
};

struct StepResult {
  float loss = 0.0f;     // mean loss of the batch
  int64_t correct = 0;   // rows whose argmax is the label
  bool applied = false;  // false: the loss was NaN/inf and the parameters were left as they were
};

// images [b, C, H, W] f32 and labels [b] i32 on ctx's device, b <= graph.batch_size();
// dlogits is the caller's [graph.batch_size(), classes] buffer (its first b rows are used), so
// the step allocates nothing of its own. `step` is the dropout step index.
StepResult train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                      const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                      const StepOptions& options = {});

}  // namespace kestrel::train
