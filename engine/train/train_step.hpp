#pragma once
// One training step as the trainer takes it: forward, count the correct rows, fused
// softmax-cross-entropy forward and backward, then (when the loss is finite) backward through
// the graph, optional gradient clipping and the optimizer's update. The trainer and
// `kestrel bench` both run exactly this, so the benchmark times what training does.
//
// Data parallel (options.reducer set): the loss gradient is divided by the rows of the whole
// global batch, the step's loss and hits are summed over the ranks before backward (so every
// rank takes the same decision on a non-finite loss), and the gradients are summed over the
// ranks during backward; every rank then applies the same update to the same parameters.
#include <cstdint>

#include "engine/nn/graph.hpp"
#include "engine/optim/optimizer.hpp"

namespace kestrel::train {

class GradientReducer;

struct StepOptions {
  float label_smoothing = 0.0f;
  float clip_norm = 0.0f;  // 0: no clipping
  // Data parallel: the step's rows over all ranks (the divisor of the loss's mean) and the
  // reducer that sums the ranks' gradients. Without a reducer the step is this process's alone.
  int64_t global_rows = 0;
  GradientReducer* reducer = nullptr;
};

struct StepResult {
  float loss = 0.0f;     // mean loss of the batch (data parallel: of the global batch)
  int64_t correct = 0;   // rows whose argmax is the label (data parallel: over all ranks)
  bool applied = false;  // false: the loss was NaN/inf and the parameters were left as they were
};

// images [b, C, H, W] f32 and labels [b] i32 on ctx's device, b <= graph.batch_size();
// dlogits is the caller's [graph.batch_size(), classes] buffer (its first b rows are used), so
// the step allocates nothing of its own. `step` is the dropout step index. With a reducer,
// images may be undefined (b = 0): a rank whose shard of the epoch has run out still joins the
// step's collectives.
StepResult train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                      const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                      const StepOptions& options = {});

}  // namespace kestrel::train
