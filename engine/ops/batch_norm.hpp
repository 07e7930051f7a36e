#pragma once
// batch_norm: torch.nn.functional.batch_norm over [N, C, ...] (BatchNorm1d/2d/3d; the layer is
// nn::BatchNorm2d). With `training` set it normalises each channel with its batch mean and
// biased variance over every dimension but 1 and, when running statistics are given, updates
// them on the context's device (momentum, unbiased variance, num_batches_tracked + 1: nothing
// comes back to the host); otherwise it normalises with the running statistics. The
// arithmetic and its accuracy: kernels/common/batch_norm.hpp. Deterministic on each backend
// (fixed summation orders, no atomics; the CPU's bits do not depend on the thread count).
#include <optional>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::ops {

struct BatchNormSpec {
  // Batch statistics (and running statistics updated, when given); false: running statistics.
  bool training = true;
  double eps = 1e-5;
  // The batch's weight in the running statistics; nullopt: their cumulative average
  // (1 / num_batches_tracked), torch's momentum=None. Must lie in [0, 1].
  std::optional<double> momentum = 0.1;
};

// torch's buffers: running_mean and running_var f32 [C], num_batches_tracked i64 []. All
// three defined, or none (track_running_stats=False: always batch statistics).
struct BatchNormRunning {
  Tensor mean, var, num_batches_tracked;
};

// y = (x - mean) / sqrt(var + eps) * weight + bias per channel. weight and bias: f32 [C], or
// both undefined (affine=False). save_mean and save_invstd: f32 [C], receive the mean and
// 1 / sqrt(var + eps) the pass used (the batch's or the running ones), which backward reads.
// Training needs more than one value per channel (torch refuses one too). With relu set, y is
// then max(y, 0) in the same pass (a following ReLU absorbed; ReluForward's bits).
void batch_norm_forward(const Context& ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, BatchNormRunning& running, Tensor& y, Tensor& save_mean,
                        Tensor& save_invstd, const BatchNormSpec& spec, bool relu = false);

// Gradients from forward's x and saved statistics, spec.training as in that forward: with batch
// statistics dx flows through the mean and variance, with running ones it is dy * weight *
// invstd. Overwrites each non-null output: dx (like x), dweight ([C], only with a weight) and
// dbias ([C]). Reads neither y nor the running statistics.
void batch_norm_backward(const Context& ctx, const Tensor& x, const Tensor& dy,
                         const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd,
                         Tensor* dx, Tensor* dweight, Tensor* dbias, const BatchNormSpec& spec);

}  // namespace kestrel::ops
