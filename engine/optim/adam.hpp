#pragma once
// Adam and AdamW (torch.optim.Adam / torch.optim.AdamW, without amsgrad): one class, one
// element functor (kernels/common/optimizers.hpp); `decoupled` selects AdamW's weight decay.
#include "engine/optim/optimizer.hpp"

namespace kestrel::optim {

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // false: L2 added to the gradient (Adam); true: AdamW

  // torch.optim.AdamW's defaults: lr 1e-3, weight_decay 0.01, decoupled.
  static AdamOptions adamw(float lr = 1e-3f, float weight_decay = 1e-2f) {
    AdamOptions o;
    o.lr = lr;
    o.weight_decay = weight_decay;
    o.decoupled = true;
    return o;
  }
};

class Adam : public Optimizer {
 public:
  // Throws kestrel::Error for a negative lr, eps or weight_decay, or betas outside [0, 1).
  // Error messages start with "adam:" or, when decoupled, "adamw:".
  explicit Adam(const AdamOptions& options);

  void prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) override;
  void apply_step(const Context& ctx, Tensor& params, const Tensor& grads) override;
  // {"exp_avg", "exp_avg_sq"} after the first step, else empty.
  NamedState state() const override;
  void load_state(int64_t step_count, const NamedState& state) override;

  // The options, with the current learning rate.
  AdamOptions options() const;

 private:
  AdamOptions options_;
  Tensor exp_avg_;     // first moment; undefined until the first step
  Tensor exp_avg_sq_;  // second moment
};

}  // namespace kestrel::optim
