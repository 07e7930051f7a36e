#pragma once
// BatchNorm2d: torch.nn.BatchNorm2d(num_features, eps, momentum, affine, track_running_stats)
// on [N, C, H, W]. Parameters weight (starts at 1) and bias (at 0) when affine; buffers
// running_mean f32 [C] (0), running_var f32 [C] (1) and num_batches_tracked i64 [] (0) when
// tracking, under PyTorch's state_dict names. Training passes normalise with the batch's
// statistics and update the running ones on the device; evaluation passes use the running
// ones (or the batch's, without tracking, as torch). Forward keeps the per-channel mean and
// inverse deviation it used; backward reads those and the input, never the output, so a ReLU
// after it runs in place, and the batch norm absorbs it: its own pass writes max(y, 0) and the
// graph skips the ReLU's forward (the ReLU's backward still runs, on the shared output).
#include <optional>

#include "engine/nn/layer.hpp"
#include "engine/ops/batch_norm.hpp"

namespace kestrel::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // nullopt: the cumulative average of the batches' statistics (torch's momentum=None).
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

class BatchNorm2d : public UnaryLayer {
 public:
  BatchNorm2d(std::string name, int64_t num_features, BatchNormOptions options = {});

  std::string_view type() const override { return "BatchNorm2d"; }
  Shape setup(const Shape& input) override;
  std::vector<ParamSpec> params() const override;
  void bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) override;
  std::vector<StateSpec> state() const override;
  void bind_state(std::span<const Tensor> state) override;
  void reset_state(const Context& ctx) override;
  std::vector<SavedSpec> saved() const override;
  void bind_saved(std::span<const Tensor> saved) override;
  void forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) override;
  void backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx,
                const StepInfo& step) override;
  bool backward_needs_input() const override { return true; }
  bool backward_needs_output() const override { return false; }
  bool absorb(const Layer* next) override;

  int64_t num_features() const { return channels_; }
  const BatchNormOptions& options() const { return options_; }
  // The bound views (eval-time folding into a convolution reads them): weight and bias are
  // undefined without affine, the running statistics without tracking.
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const ops::BatchNormRunning& running() const { return running_; }

 private:
  ops::BatchNormSpec spec(const StepInfo& step) const;

  int64_t channels_;
  BatchNormOptions options_;
  Tensor weight_, bias_, dweight_, dbias_;
  ops::BatchNormRunning running_;
  Tensor save_mean_, save_invstd_;
  bool fused_relu_ = false;
};

}  // namespace kestrel::nn
