#include "engine/train/train_step.hpp"

#include <cmath>

#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/grad_norm.hpp"

namespace kestrel::train {

StepResult train_step(const Context& ctx, nn::Graph& graph, optim::Optimizer& optimizer,
                      const Tensor& images, const Tensor& labels, int64_t step, Tensor& dlogits,
                      const StepOptions& options) {
  StepResult result;
  const Tensor logits = graph.forward(ctx, images, /*training=*/true, step);
  result.correct = ops::count_correct(ctx, logits, labels);
  Tensor dl = dlogits.slice(0, logits.dim(0));
  result.loss =
      ops::cross_entropy_forward_backward(ctx, logits, labels, &dl, {options.label_smoothing});
  // A non-finite loss leaves the parameters untouched, so the caller can stop on the last
  // good weights.
  if (!std::isfinite(result.loss)) return result;
  graph.backward(ctx, dl);
  if (options.clip_norm > 0.0f) ops::clip_grad_norm(ctx, graph.gradients(), options.clip_norm);
  optimizer.step(ctx, graph.parameters(), graph.gradients());
  result.applied = true;
  return result;
}

}  // namespace kestrel::train
