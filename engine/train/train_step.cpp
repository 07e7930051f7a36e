#include "engine/train/train_step.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/grad_norm.hpp"
#include "engine/train/gradient_reducer.hpp"

namespace kestrel::train {

StepResult train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                      const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                      const StepOptions& options) {
  StepResult result;
  GradientReducer* reducer = options.reducer;
  const int64_t rows = images.defined() ? images.dim(0) : 0;
  KESTREL_CHECK(rows > 0 || reducer != nullptr,
                "train_step: an empty batch (only a data-parallel rank may have no rows)");
  KESTREL_CHECK(reducer == nullptr || options.global_rows >= std::max<int64_t>(rows, 1),
                "train_step: the global batch has {} rows, fewer than this rank's {}",
                options.global_rows, rows);
  Tensor dl;
  if (rows > 0) {
    const Tensor logits = graph.forward(ctx, images, /*training=*/true, step);
    result.correct = ops::count_correct(ctx, logits, labels);
    dl = dlogits.slice(0, rows);
    result.loss = ops::cross_entropy_forward_backward(
        ctx, logits, labels, &dl, {options.label_smoothing, options.global_rows});
  }
  if (reducer != nullptr) {
    // The global batch's loss and hits, before backward: every rank sees the same loss and so
    // takes the same decision below. For one rank this is the identity, bit for bit.
    std::array<double, 2> sums{static_cast<double>(result.loss) * static_cast<double>(rows),
                               static_cast<double>(result.correct)};
    reducer->communicator().all_reduce_sum_host(sums);
    result.loss = static_cast<float>(sums[0] / static_cast<double>(options.global_rows));
    result.correct = static_cast<int64_t>(sums[1]);
  }
  // A non-finite loss leaves the parameters untouched, so the caller can stop on the last
  // good weights.
  if (!std::isfinite(result.loss)) return result;
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
  if (options.clip_norm > 0.0f) ops::clip_grad_norm(ctx, graph.gradients(), options.clip_norm);
  optimizer.step(ctx, graph.parameters(), graph.gradients());
  result.applied = true;
  return result;
}

}  // namespace kestrel::train
