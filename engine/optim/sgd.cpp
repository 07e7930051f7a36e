#include "engine/optim/sgd.hpp"

#include <array>
#include <cmath>

#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/optimizers.hpp"

namespace kestrel::optim {

namespace {
constexpr std::string_view kMomentumBuffer = "momentum_buffer";
}  // namespace

Sgd::Sgd(const SgdOptions& options) : Optimizer("sgd", options.lr), options_(options) {
  KESTREL_CHECK(options.momentum >= 0.0f && std::isfinite(options.momentum),
                "sgd: invalid momentum {} (must be >= 0)", options.momentum);
  KESTREL_CHECK(std::isfinite(options.dampening), "sgd: invalid dampening {}", options.dampening);
  KESTREL_CHECK(options.weight_decay >= 0.0f && std::isfinite(options.weight_decay),
                "sgd: invalid weight_decay {} (must be >= 0)", options.weight_decay);
  KESTREL_CHECK(!options.nesterov || (options.momentum > 0.0f && options.dampening == 0.0f),
                "sgd: nesterov momentum requires momentum > 0 and dampening == 0 (momentum {}, "
                "dampening {})",
                options.momentum, options.dampening);
}

SgdOptions Sgd::options() const {
  SgdOptions o = options_;
  o.lr = lr();
  return o;
}

void Sgd::prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) {
  check_step_args(ctx, params, grads, momentum_buffer_.defined() ? momentum_buffer_.numel() : -1);
  // torch creates the buffer as a copy of the first step's gradient; the functor does that
  // copy, so fresh memory needs no zero-fill.
  if (options_.momentum != 0.0f && !momentum_buffer_.defined()) {
    momentum_buffer_ = Tensor::empty(Shape{params.numel()}, DType::F32, ctx.device());
    init_buffer_ = true;
  }
  ++step_count_;
  // Each group's rate, lr * scale in double as Python computes group["lr"], rounded to f32.
  const std::array<double, 4> lr = group_learning_rates();
  const std::array<float, 4> rates{static_cast<float>(lr[0]), static_cast<float>(lr[1]),
                                   static_cast<float>(lr[2]), static_cast<float>(lr[3])};
  store_step_scalars(ctx, rates);
}

void Sgd::apply_step(const Context& ctx, Tensor& params, const Tensor& grads) {
  NvtxRange range("sgd_step");
  check_step_args(ctx, params, grads, momentum_buffer_.defined() ? momentum_buffer_.numel() : -1);
  const bool use_momentum = options_.momentum != 0.0f;
  KESTREL_CHECK(!use_momentum || momentum_buffer_.defined(), "{}: apply_step before prepare_step",
                name());
  const bool init_buffer = init_buffer_;
  init_buffer_ = false;
  const int32_t* skip = nullptr;
  if (skipped_on_host(ctx, skip)) return;
  const std::array<double, 4> wd = group_weight_decays(options_.weight_decay);
  const kernels::SgdStep functor{params.data<float>(),
                                 grads.data<float>(),
                                 use_momentum ? momentum_buffer_.data<float>() : nullptr,
                                 step_scalars(),
                                 options_.momentum,
                                 static_cast<float>(1.0 - static_cast<double>(options_.dampening)),
                                 {static_cast<float>(wd[0]), static_cast<float>(wd[1]),
                                  static_cast<float>(wd[2]), static_cast<float>(wd[3])},
                                 group_index(),
                                 options_.nesterov,
                                 init_buffer,
                                 skip};
  ops::detail::launch_elementwise(ctx, params.numel(), functor);
}

NamedState Sgd::state() const {
  if (!momentum_buffer_.defined()) return {};
  return {{std::string(kMomentumBuffer), momentum_buffer_}};
}

void Sgd::load_state(int64_t step_count, const NamedState& state) {
  if (state.empty()) {
    check_loaded_state(step_count, state, {});
    momentum_buffer_ = Tensor();
  } else {
    KESTREL_CHECK(options_.momentum != 0.0f,
                  "sgd: loaded state has a momentum buffer but momentum is 0");
    check_loaded_state(step_count, state, {kMomentumBuffer});
    momentum_buffer_ = copy_of(state, kMomentumBuffer);
  }
  init_buffer_ = false;
  step_count_ = step_count;
}

}  // namespace kestrel::optim
