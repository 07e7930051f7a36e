#include "engine/train/train_step.hpp"

#include <algorithm>

#include "engine/ops/grad_norm.hpp"
#include "engine/ops/step_tally.hpp"
#include "engine/train/gradient_reducer.hpp"
#include "engine/train/weight_ema.hpp"

namespace kestrel::train {

void train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                StepLedger& ledger, const StepOptions& options) {
  queue_step_inputs(ctx, graph, optimizer, step, ledger, options.ema);
  queue_step_body(ctx, graph, optimizer, images, labels, dlogits, ledger, options);
}

void queue_step_inputs(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                       int64_t step, StepLedger& ledger, WeightEma* ema) {
  ledger.begin_step(step);
  graph.set_step_on_device(ledger.step_on_device());
  optimizer.set_skip_flag(ledger.halt_flag());
  optimizer.prepare_step(ctx, graph.parameters(), graph.gradients());
  if (ema != nullptr) ema->prepare_update(ctx);
}

void queue_step_body(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                     const Tensor& images, const Tensor& labels, Tensor& dlogits,
                     StepLedger& ledger, const StepOptions& options) {
  GradientReducer* reducer = options.reducer;
  const int64_t rows = images.defined() ? images.dim(0) : 0;
  KESTREL_CHECK(rows > 0 || reducer != nullptr,
                "train_step: an empty batch (only a data-parallel rank may have no rows)");
  KESTREL_CHECK(reducer == nullptr || options.global_rows >= std::max<int64_t>(rows, 1),
                "train_step: the global batch has {} rows, fewer than this rank's {}",
                options.global_rows, rows);
  const int64_t global_rows = reducer != nullptr ? options.global_rows : rows;
  Tensor dl;
  if (rows > 0) {
    // The step index is read on the device (Graph::set_step_on_device); 0 here is unused.
    const Tensor logits = graph.forward(ctx, images, /*training=*/true, 0);
    dl = dlogits.slice(0, rows);
    ops::cross_entropy_tally(ctx, logits, labels, &dl,
                             {options.label_smoothing, reducer != nullptr ? global_rows : 0},
                             ledger.tally());
  } else {
    ops::empty_tally(ctx, ledger.tally());
  }
  // The global batch's loss and hits, in device memory: every rank records the same numbers
  // and so halts at the same step. One rank has nothing to sum.
  if (reducer != nullptr && reducer->communicator().size() > 1)
    reducer->communicator().all_reduce_sum_doubles(ledger.tally_values(), 2);
  ledger.record(global_rows);

  // Backward runs whatever the loss was (the host does not know it); the update below is
  // skipped on the device once the ledger has halted.
  if (reducer == nullptr) {
    graph.backward(ctx, dl);
  } else {
    if (rows > 0) {
      graph.backward(ctx, dl, reducer->hook());
    } else {
      reducer->start_without_rows();
    }
    reducer->finish();
  }
  if (options.clip_norm > 0.0f)
    ops::clip_grad_norm_on_device(ctx, graph.gradients(), options.clip_norm);
  optimizer.apply_step(ctx, graph.parameters(), graph.gradients());
  if (options.ema != nullptr)
    options.ema->apply_update(ctx, graph.parameters(), ledger.halt_flag());
}

}  // namespace kestrel::train
