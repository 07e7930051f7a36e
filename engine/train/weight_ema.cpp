#include "engine/train/weight_ema.hpp"

#include <algorithm>
#include <cmath>

#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/error.hpp"
#include "kernels/common/optimizers.hpp"
#include "kernels/common/weight_ema.hpp"

namespace kestrel::train {

WeightEma::WeightEma(double decay) : decay_(decay) {
  KESTREL_CHECK(decay > 0.0 && decay < 1.0, "--ema must be in (0, 1), got {}", decay);
}

double WeightEma::decay_at(double decay, int64_t n) {
  const double t = static_cast<double>(n);
  return std::min(decay, (1.0 + t) / (10.0 + t));
}

void WeightEma::check_params(const Context& ctx, const Tensor& params, const char* what) const {
  KESTREL_CHECK(params.defined() && params.dtype() == DType::F32 && params.ndim() == 1 &&
                    params.device() == ctx.device(),
                "ema: {}: the parameters must be a flat f32 buffer on {}, got {}", what,
                ctx.device().str(), params.defined() ? params.str() : "undefined");
  KESTREL_CHECK(!averaged_.defined() || averaged_.numel() == params.numel(),
                "ema: {}: {} parameters but the average holds {}", what, params.numel(),
                averaged_.numel());
}

void WeightEma::start(const Context& ctx, const Tensor& params) {
  averaged_ = Tensor();
  check_params(ctx, params, "start");
  averaged_ = Tensor::empty(params.shape(), DType::F32, ctx.device());
  averaged_.copy_from(params);
  updates_ = 0;
}

void WeightEma::load(const Context& ctx, const Tensor& averaged, int64_t updates) {
  KESTREL_CHECK(updates >= 0, "ema: invalid update count {}", updates);
  averaged_ = Tensor();
  check_params(ctx, averaged, "load");
  averaged_ = Tensor::empty(averaged.shape(), DType::F32, ctx.device());
  averaged_.copy_from(averaged);
  updates_ = updates;
}

void WeightEma::prepare_update(const Context& ctx) {
  KESTREL_CHECK(averaged_.defined(), "ema: update before start");
  if (!weight_.defined() || weight_.device() != ctx.device())
    weight_ = Tensor::empty(Shape{kernels::StoreStepScalars::kMax}, DType::F32, ctx.device());
  kernels::StoreStepScalars store{weight_.data<float>(), {}, 1};
  store.values[0] = static_cast<float>(1.0 - decay_at(decay_, updates_));
  ops::detail::launch_elementwise(ctx, 1, store);
  ++updates_;
}

void WeightEma::apply_update(const Context& ctx, const Tensor& params, const int32_t* skip) const {
  NvtxRange range("ema_update");
  check_params(ctx, params, "update");
  KESTREL_CHECK(weight_.defined(), "ema: apply_update before prepare_update");
  // On the CPU the halt flag is host memory: read it here, as the optimizer does.
  if (!ctx.is_cuda() && skip != nullptr) {
    if (*skip != 0) return;
    skip = nullptr;
  }
  Tensor avg = averaged_;
  const kernels::EmaUpdate functor{avg.data<float>(), params.data<float>(), weight_.data<float>(),
                                   skip};
  ops::detail::launch_elementwise(ctx, params.numel(), functor);
}

void WeightEma::update(const Context& ctx, const Tensor& params, const int32_t* skip) {
  prepare_update(ctx);
  apply_update(ctx, params, skip);
}

void WeightEma::swap_with(const Context& ctx, Tensor& params) {
  check_params(ctx, params, "swap");
  KESTREL_CHECK(averaged_.defined(), "ema: swap before start");
  const kernels::SwapBuffers functor{averaged_.data<float>(), params.data<float>()};
  ops::detail::launch_elementwise(ctx, params.numel(), functor);
}

}  // namespace kestrel::train
