#pragma once
// One training step as the trainer takes it: forward, the fused softmax-cross-entropy forward
// and backward with the step's hits, backward through the graph, optional gradient clipping
// and the optimizer's update. The trainer and `kestrel bench` both run exactly this, so the
// benchmark times what training does.
//
// Nothing comes back to the host: the step's loss and hits go into a StepLedger on the device,
// and a NaN or infinite loss halts the ledger, whose flag the optimizer obeys on the device
// (that step and every later one change nothing). A GPU step is therefore only queued work;
// the caller reads the ledger when it wants numbers.
//
// Data parallel (options.reducer set, more than one rank): the loss gradient is divided by the
// rows of the whole global batch, the step's tally is summed over the ranks before it is
// recorded (so every rank's ledger halts at the same step), and the gradients are summed over
// the ranks during backward; every rank then applies the same update to the same parameters.
#include <cstdint>

#include "engine/nn/graph.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/train/step_ledger.hpp"

namespace kestrel::train {

class GradientReducer;
class WeightEma;

struct StepOptions {
  float label_smoothing = 0.0f;
  float clip_norm = 0.0f;  // 0: no clipping
  // Data parallel: the step's rows over all ranks (the divisor of the loss's mean) and the
  // reducer that sums the ranks' gradients. Without a reducer the step is this process's alone.
  int64_t global_rows = 0;
  GradientReducer* reducer = nullptr;
  // The weights' moving average (`--ema`), updated after the optimizer's step, or null.
  WeightEma* ema = nullptr;
};

// images [b, C, H, W] f32 and labels [b] i32 on ctx's device, b <= graph.batch_size(), labels
// in [0, classes) (not checked here: see ops::cross_entropy_tally); dlogits is the caller's
// [graph.batch_size(), classes] buffer (its first b rows are used), so the step allocates
// nothing of its own. `step` is the dropout step index and the index the ledger records. The
// graph is pointed at the ledger's step index and the optimizer at its halt flag. With a reducer, images may be undefined
// (b = 0): a rank whose shard of the epoch has run out still joins the step's collectives.
void train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                StepLedger& ledger, const StepOptions& options = {});

// train_step in its two halves, for CUDA Graph capture. queue_step_inputs is what changes from
// step to step: the step index into the ledger (which dropout reads on the device), the
// optimizer's host work and its scalars (Optimizer::prepare_step), and the moving average's
// weight when there is one (WeightEma::prepare_update). queue_step_body is the rest (forward,
// loss, backward, clipping, Optimizer::apply_step, WeightEma::apply_update): its launches are the
// same at every step of the same batch shape, so they can be captured once and replayed after each
// queue_step_inputs. The data-parallel collectives are part of the body.
void queue_step_inputs(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                       int64_t step, StepLedger& ledger, WeightEma* ema = nullptr);
void queue_step_body(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                     const Tensor& images, const Tensor& labels, Tensor& dlogits,
                     StepLedger& ledger, const StepOptions& options = {});

}  // namespace kestrel::train
