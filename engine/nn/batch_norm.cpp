#include "engine/nn/batch_norm.hpp"

#include "engine/tensor/copy.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::nn {

BatchNorm2d::BatchNorm2d(std::string name, int64_t num_features, BatchNormOptions options)
    : UnaryLayer(std::move(name)), channels_(num_features), options_(options) {
  KESTREL_CHECK(num_features >= 1, "BatchNorm2d '{}': num_features must be at least 1, got {}",
                this->name(), num_features);
  KESTREL_CHECK(options.eps >= 0.0, "BatchNorm2d '{}': eps must not be negative, got {}",
                this->name(), options.eps);
  KESTREL_CHECK(!options.momentum || (*options.momentum >= 0.0 && *options.momentum <= 1.0),
                "BatchNorm2d '{}': momentum must lie in [0, 1], got {}", this->name(),
                options.momentum.value_or(0.0));
}

Shape BatchNorm2d::setup(const Shape& input) {
  KESTREL_CHECK(input.ndim() == 4, "BatchNorm2d: expected 4D input (N, C, H, W), got {}",
                input.str());
  KESTREL_CHECK(input[1] == channels_, "BatchNorm2d: input {} has {} channels, num_features is {}",
                input.str(), input[1], channels_);
  return input;
}

std::vector<ParamSpec> BatchNorm2d::params() const {
  if (!options_.affine) return {};
  return {{"weight", Shape{channels_}, ParamKind::Weight, ParamInit::Ones},
          {"bias", Shape{channels_}, ParamKind::Bias, ParamInit::Zeros}};
}

void BatchNorm2d::bind_params(std::span<const Tensor> params, std::span<const Tensor> grads) {
  if (!options_.affine) return;
  weight_ = params[0];
  bias_ = params[1];
  dweight_ = grads[0];
  dbias_ = grads[1];
}

std::vector<StateSpec> BatchNorm2d::state() const {
  if (!options_.track_running_stats) return {};
  return {{"running_mean", Shape{channels_}, DType::F32},
          {"running_var", Shape{channels_}, DType::F32},
          {"num_batches_tracked", Shape{}, DType::I64}};
}

void BatchNorm2d::bind_state(std::span<const Tensor> state) {
  if (!options_.track_running_stats) return;
  running_ = ops::BatchNormRunning{state[0], state[1], state[2]};
}

void BatchNorm2d::reset_state(const Context& ctx) {
  (void)ctx;  // the fills run on the state's device, which is ctx's
  if (!options_.track_running_stats) return;
  running_.mean.fill(0.0f);
  running_.var.fill(1.0f);
  zero_bytes(running_.num_batches_tracked.raw_data(), running_.num_batches_tracked.device(),
             running_.num_batches_tracked.nbytes());
}

std::vector<SavedSpec> BatchNorm2d::saved() const {
  // The per-channel mean and 1 / sqrt(var + eps) the forward used: not per sample, so these
  // blocks keep their shape whatever the batch.
  return {{Shape{channels_}, DType::F32}, {Shape{channels_}, DType::F32}};
}

void BatchNorm2d::bind_saved(std::span<const Tensor> saved) {
  save_mean_ = saved[0];
  save_invstd_ = saved[1];
}

ops::BatchNormSpec BatchNorm2d::spec(const StepInfo& step) const {
  // Without running statistics torch normalises with the batch's in evaluation too.
  return ops::BatchNormSpec{step.training || !options_.track_running_stats, options_.eps,
                            options_.momentum};
}

void BatchNorm2d::forward(const Context& ctx, const Tensor& x, Tensor& y, const StepInfo& step) {
  ops::batch_norm_forward(ctx, x, weight_, bias_, running_, y, save_mean_, save_invstd_,
                          spec(step), fused_relu_);
}

bool BatchNorm2d::absorb(const Layer* next) {
  fused_relu_ = next != nullptr && next->nonlinearity() == "relu";
  return fused_relu_;
}

void BatchNorm2d::backward(const Context& ctx, const Tensor& x, const Tensor& y, const Tensor& dy,
                           Tensor* dx, const StepInfo& step) {
  (void)y;
  ops::batch_norm_backward(ctx, x, dy, weight_, save_mean_, save_invstd_, dx,
                           dweight_.defined() ? &dweight_ : nullptr,
                           dbias_.defined() ? &dbias_ : nullptr, spec(step));
}

}  // namespace kestrel::nn
