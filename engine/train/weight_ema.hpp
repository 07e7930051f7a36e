#pragma once
// An exponential moving average of the model's trainable parameters (`train --ema DECAY`),
// kept beside the flat parameter buffer and updated by one launch after every optimizer step:
//   ema = lerp(ema, params, 1 - d_n),  d_n = min(decay, (1 + n) / (10 + n))
// for the n-th update (n = 0, 1, ...): torch.optim.swa_utils' EMA (get_ema_multi_avg_fn's lerp)
// with TensorFlow's ExponentialMovingAverage num_updates warm-up (also timm's ModelEmaV3), so
// the first updates follow the fast-moving early weights. It starts as a copy of the weights.
//
// Buffers (batch norm's running statistics) are not averaged: evaluation with the averaged
// weights uses the live model's buffers, which is what saving "copied buffers" amounts to (the
// copy would equal the live buffers after every step). Frozen parameters do not change, so
// they need no average either.
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::train {

class WeightEma {
 public:
  // decay in (0, 1); throws kestrel::Error otherwise.
  explicit WeightEma(double decay);

  // d_n above, in double.
  static double decay_at(double decay, int64_t n);

  // Starts the average as a copy of `params` (f32 flat, ctx's device), with no update yet.
  void start(const Context& ctx, const Tensor& params);
  // Resumes from a saved average and its update count.
  void load(const Context& ctx, const Tensor& averaged, int64_t updates);

  // The host's half of an update: counts it and stores its weight 1 - d_n to device memory.
  void prepare_update(const Context& ctx);
  // The device's half, after the optimizer's step: one launch over every element, skipped
  // while `skip` (the step ledger's halt flag, or null) is set, as the optimizer's step is.
  void apply_update(const Context& ctx, const Tensor& params, const int32_t* skip) const;
  // prepare_update then apply_update.
  void update(const Context& ctx, const Tensor& params, const int32_t* skip);

  // Exchanges the averaged weights and `params` (one launch): call it twice around an
  // evaluation to evaluate the average and get the live weights back.
  void swap_with(const Context& ctx, Tensor& params);

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  // The average, flat like the parameters (undefined before start or load).
  const Tensor& averaged() const { return averaged_; }

 private:
  void check_params(const Context& ctx, const Tensor& params, const char* what) const;

  double decay_;
  int64_t updates_ = 0;
  Tensor averaged_;
  Tensor weight_;  // f32 [StoreStepScalars::kMax]: 1 - d_n of the update being queued
};

}  // namespace kestrel::train
