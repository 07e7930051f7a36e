// Pooling (max with its argmax, average) forward and backward, and the fused
// softmax-cross-entropy with label smoothing: the loss and the gradient of the logits.
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/pool2d.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

const ops::Pool2dSpec kPool{
    .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
const Shape kPoolInput{2, 3, 9, 9};

std::vector<Output> max_pool(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, kPoolInput, gen);
  const Shape out = ops::pool2d_output_shape(kPoolInput, kPool);
  Tensor y = poisoned(ctx, out), argmax = Tensor::zeros(out, DType::I32, ctx.device());
  ops::max_pool2d_forward(ctx, x, y, argmax, kPool);
  const Tensor dy = random_input(ctx, out, gen);
  Tensor dx = poisoned(ctx, kPoolInput);
  ops::max_pool2d_backward(ctx, dy, argmax, dx, kPool);
  return {output("y", y), output("argmax", argmax), output("dx", dx)};
}

std::vector<Output> avg_pool(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, kPoolInput, gen);
  const Shape out = ops::pool2d_output_shape(kPoolInput, kPool);
  Tensor y = poisoned(ctx, out);
  ops::avg_pool2d_forward(ctx, x, y, kPool);
  const Tensor dy = random_input(ctx, out, gen);
  Tensor dx = poisoned(ctx, kPoolInput);
  ops::avg_pool2d_backward(ctx, dy, dx, kPool);
  return {output("y", y), output("dx", dx)};
}

std::vector<Output> cross_entropy(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  constexpr int64_t kRows = 13;
  constexpr int32_t kClasses = 37;  // not a multiple of a warp: partial lanes are exercised
  const Tensor logits = random_input(ctx, Shape{kRows, kClasses}, gen, -4.0f, 4.0f);
  const Tensor labels = random_labels(ctx, kRows, kClasses, gen);
  Tensor dlogits = poisoned(ctx, Shape{kRows, kClasses});
  const float loss =
      ops::cross_entropy_forward_backward(ctx, logits, labels, &dlogits, {.label_smoothing = 0.1f});
  return {{"loss", {loss}}, output("dlogits", dlogits)};
}

}  // namespace

std::vector<Case> pooling_and_loss_cases() {
  return {{"max_pool2d.forward+backward", {.rtol = 1e-6, .atol = 1e-7}, true, max_pool},
          {"avg_pool2d.forward+backward", {.rtol = 1e-5, .atol = 1e-6}, false, avg_pool},
          {"softmax_cross_entropy", {.rtol = 1e-5, .atol = 1e-6}, true, cross_entropy}};
}

}  // namespace kestrel::selftest
