#include "engine/optim/adam.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/optimizers.hpp"

namespace kestrel::optim {

namespace {
constexpr std::string_view kExpAvg = "exp_avg";
constexpr std::string_view kExpAvgSq = "exp_avg_sq";

bool is_beta(float b) { return b >= 0.0f && b < 1.0f; }  // false for NaN
}  // namespace

Adam::Adam(const AdamOptions& options)
    : Optimizer(options.decoupled ? "adamw" : "adam", options.lr), options_(options) {
  KESTREL_CHECK(options.eps >= 0.0f && std::isfinite(options.eps),
                "{}: invalid eps {} (must be >= 0)", name(), options.eps);
  KESTREL_CHECK(is_beta(options.beta1), "{}: invalid beta1 {} (must be in [0, 1))", name(),
                options.beta1);
  KESTREL_CHECK(is_beta(options.beta2), "{}: invalid beta2 {} (must be in [0, 1))", name(),
                options.beta2);
  KESTREL_CHECK(options.weight_decay >= 0.0f && std::isfinite(options.weight_decay),
                "{}: invalid weight_decay {} (must be >= 0)", name(), options.weight_decay);
}

AdamOptions Adam::options() const {
  AdamOptions o = options_;
  o.lr = lr();
  return o;
}

void Adam::prepare_step(const Context& ctx, const Tensor& params, const Tensor& grads) {
  check_step_args(ctx, params, grads, exp_avg_.defined() ? exp_avg_.numel() : -1);
  if (!exp_avg_.defined()) {
    exp_avg_ = Tensor::zeros(Shape{params.numel()}, DType::F32, ctx.device());
    exp_avg_sq_ = Tensor::zeros(Shape{params.numel()}, DType::F32, ctx.device());
  }
  ++step_count_;

  // Python's arithmetic on the hyperparameters, in double, rounded to f32 where ATen takes
  // the scalar into a float kernel; each group's with its own lr and weight decay.
  const std::array<double, 4> lr = group_learning_rates();
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  const std::array<double, 4> wd = group_weight_decays(options_.weight_decay);
  const double t = static_cast<double>(step_count_);
  const double bias_correction1 = 1.0 - std::pow(beta1, t);
  const double bias_correction2 = 1.0 - std::pow(beta2, t);
  kernels::AdamScalars s{};
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  for (size_t k = 0; k < lr.size(); ++k) {
    s.step_size[k] = static_cast<float>(lr[k] / bias_correction1);
    s.decay_factor[k] = static_cast<float>(1.0 - lr[k] * wd[k]);
  }
  // The functor reads the struct back from the stored floats.
  static_assert(std::is_trivially_copyable_v<kernels::AdamScalars> &&
                sizeof(kernels::AdamScalars) % sizeof(float) == 0);
  std::array<float, sizeof(kernels::AdamScalars) / sizeof(float)> values{};
  std::memcpy(values.data(), &s, sizeof(s));
  store_step_scalars(ctx, values);
}

void Adam::apply_step(const Context& ctx, Tensor& params, const Tensor& grads) {
  NvtxRange range("adam_step");
  check_step_args(ctx, params, grads, exp_avg_.defined() ? exp_avg_.numel() : -1);
  KESTREL_CHECK(exp_avg_.defined(), "{}: apply_step before prepare_step", name());
  const int32_t* skip = nullptr;
  if (skipped_on_host(ctx, skip)) return;
  const double beta1 = options_.beta1, beta2 = options_.beta2;
  const std::array<double, 4> wd = group_weight_decays(options_.weight_decay);
  const kernels::AdamStep functor{params.data<float>(),
                                  grads.data<float>(),
                                  exp_avg_.data<float>(),
                                  exp_avg_sq_.data<float>(),
                                  static_cast<float>(1.0 - beta1),
                                  options_.beta2,
                                  static_cast<float>(1.0 - beta2),
                                  options_.eps,
                                  {static_cast<float>(wd[0]), static_cast<float>(wd[1]),
                                   static_cast<float>(wd[2]), static_cast<float>(wd[3])},
                                  group_index(),
                                  options_.decoupled,
                                  reinterpret_cast<const kernels::AdamScalars*>(step_scalars()),
                                  skip};
  ops::detail::launch_elementwise(ctx, params.numel(), functor);
}

NamedState Adam::state() const {
  if (!exp_avg_.defined()) return {};
  return {{std::string(kExpAvg), exp_avg_}, {std::string(kExpAvgSq), exp_avg_sq_}};
}

void Adam::load_state(int64_t step_count, const NamedState& state) {
  if (state.empty()) {
    KESTREL_CHECK(step_count == 0, "{}: loaded state at step {} has no exp_avg and exp_avg_sq",
                  name(), step_count);
    exp_avg_ = Tensor();
    exp_avg_sq_ = Tensor();
  } else {
    check_loaded_state(step_count, state, {kExpAvg, kExpAvgSq});
    KESTREL_CHECK(step_count >= 1, "{}: loaded state has moments but step count {}", name(),
                  step_count);
    exp_avg_ = copy_of(state, kExpAvg);
    exp_avg_sq_ = copy_of(state, kExpAvgSq);
  }
  step_count_ = step_count;
}

}  // namespace kestrel::optim
