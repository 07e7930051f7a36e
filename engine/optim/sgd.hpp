#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay:
// torch.optim.SGD's update, element by element (kernels/common/optimizers.hpp).
#include "engine/optim/optimizer.hpp"

namespace kestrel::optim {

struct SgdOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  // Throws kestrel::Error for a negative lr, momentum or weight_decay, and for nesterov
  // without momentum > 0 and dampening == 0 (as torch does).
  explicit Sgd(const SgdOptions& options);

  void prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) override;
  void apply_step(const Context& ctx, Tensor& params, const Tensor& grads) override;
  // {"momentum_buffer"} once a step with momentum != 0 has run, else empty.
  NamedState state() const override;
  void load_state(int64_t step_count, const NamedState& state) override;

  // The options, with the current learning rate.
  SgdOptions options() const;

 private:
  SgdOptions options_;
  Tensor momentum_buffer_;  // undefined until the first step with momentum
  bool init_buffer_ = false;  // the buffer was just created: the next update fills it
};

}  // namespace kestrel::optim
