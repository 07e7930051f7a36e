#include "engine/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "kernels/common/optimizers.hpp"

namespace kestrel::optim {

Optimizer::Optimizer(std::string name, float lr) : name_(std::move(name)), lr_(0.0f) {
  set_lr(lr);
}

bool Optimizer::skipped_on_host(const Context& ctx, const int32_t*& functor_flag) const {
  functor_flag = skip_flag_;
  if (ctx.is_cuda() || skip_flag_ == nullptr) return false;
  functor_flag = nullptr;
  return *skip_flag_ != 0;
}

void Optimizer::step(const Context& ctx, Tensor& params, const Tensor& grads) {
  prepare_step(ctx, params, grads);
  apply_step(ctx, params, grads);
}

const float* Optimizer::store_step_scalars(const Context& ctx, std::span<const float> values) {
  KESTREL_CHECK(values.size() <= static_cast<size_t>(kernels::StoreStepScalars::kMax),
                "{}: {} step scalars", name_, values.size());
  if (!step_scalars_.defined() || step_scalars_.device() != ctx.device())
    step_scalars_ =
        Tensor::empty(Shape{kernels::StoreStepScalars::kMax}, DType::F32, ctx.device());
  kernels::StoreStepScalars store{step_scalars_.data<float>(), {}, 0};
  for (float v : values) store.values[store.count++] = v;
  ops::detail::launch_elementwise(ctx, 1, store);
  return step_scalars_.data<float>();
}

const float* Optimizer::step_scalars() const {
  KESTREL_CHECK(step_scalars_.defined(), "{}: apply_step before prepare_step", name_);
  return step_scalars_.data<float>();
}

namespace {
// !(scale >= 0) also rejects NaN.
bool is_scale(double scale) { return scale >= 0.0 && std::isfinite(scale); }
}  // namespace

void Optimizer::set_param_groups(ParamGroups groups) {
  const size_t count = groups.weight_decay_scale.size();
  KESTREL_CHECK(count >= 1 && count <= static_cast<size_t>(kernels::kMaxParamGroups),
                "{}: {} parameter groups (1 to {} supported)", name_, count,
                kernels::kMaxParamGroups);
  for (double scale : groups.weight_decay_scale)
    KESTREL_CHECK(is_scale(scale), "{}: invalid weight decay scale {} (must be >= 0)", name_,
                  scale);
  KESTREL_CHECK(groups.lr_scale.empty() || groups.lr_scale.size() == count,
                "{}: {} learning-rate scales for {} parameter groups", name_,
                groups.lr_scale.size(), count);
  for (double scale : groups.lr_scale)
    KESTREL_CHECK(is_scale(scale), "{}: invalid learning-rate scale {} (must be >= 0)", name_,
                  scale);
  if (groups.index.defined()) {
    KESTREL_CHECK(groups.index.dtype() == DType::U8 && groups.index.ndim() == 1,
                  "{}: the parameter group index must be u8 [n], got {}", name_,
                  groups.index.str());
    if (!groups.index.device().is_cuda()) {
      const uint8_t* g = groups.index.data<uint8_t>();
      for (int64_t i = 0; i < groups.index.numel(); ++i)
        KESTREL_CHECK(g[i] < count, "{}: element {} is in group {} of {}", name_, i, g[i], count);
    }
  }
  groups_ = std::move(groups);
}

int Optimizer::param_group_count() const {
  return std::max<int>(1, static_cast<int>(groups_.weight_decay_scale.size()));
}

void Optimizer::set_group_lr_scale(int group, double scale) {
  const int count = param_group_count();
  KESTREL_CHECK(group >= 0 && group < count, "{}: no parameter group {} (there are {})", name_,
                group, count);
  KESTREL_CHECK(is_scale(scale), "{}: invalid learning-rate scale {} for group {} (must be >= 0)",
                name_, scale, group);
  // Without set_param_groups the optimizer is one group at full weight decay.
  if (groups_.weight_decay_scale.empty()) groups_.weight_decay_scale = {1.0};
  if (groups_.lr_scale.empty()) groups_.lr_scale.assign(static_cast<size_t>(count), 1.0);
  groups_.lr_scale[static_cast<size_t>(group)] = scale;
}

std::array<double, 4> Optimizer::group_learning_rates() const {
  static_assert(kernels::kMaxParamGroups == 4);
  std::array<double, 4> out{};
  const double lr = lr_;
  for (int k = 0; k < param_group_count(); ++k)
    out[static_cast<size_t>(k)] =
        groups_.lr_scale.empty() ? lr : lr * groups_.lr_scale[static_cast<size_t>(k)];
  return out;
}

std::array<double, 4> Optimizer::group_weight_decays(float wd) const {
  static_assert(kernels::kMaxParamGroups == 4);
  std::array<double, 4> out{};
  if (groups_.weight_decay_scale.empty()) {
    out[0] = wd;
    return out;
  }
  for (size_t k = 0; k < groups_.weight_decay_scale.size(); ++k)
    out[k] = static_cast<double>(wd) * groups_.weight_decay_scale[k];
  return out;
}

const uint8_t* Optimizer::group_index() const {
  return groups_.index.defined() ? groups_.index.data<uint8_t>() : nullptr;
}

void Optimizer::set_lr(float lr) {
  // !(lr >= 0) also rejects NaN.
  KESTREL_CHECK(lr >= 0.0f && std::isfinite(lr), "{}: invalid learning rate {} (must be >= 0)",
                name_, lr);
  lr_ = lr;
}

void Optimizer::check_step_args(const Context& ctx, const Tensor& params, const Tensor& grads,
                                int64_t state_numel) const {
  ops::detail::check_tensor(name_, "params", params, ctx, -1);
  ops::detail::check_tensor(name_, "grads", grads, ctx, -1);
  KESTREL_CHECK(grads.numel() == params.numel(),
                "{}: grads have {} elements but params have {} (params {}, grads {})", name_,
                grads.numel(), params.numel(), params.str(), grads.str());
  KESTREL_CHECK(!groups_.index.defined() || (groups_.index.numel() == params.numel() &&
                                             groups_.index.device() == ctx.device()),
                "{}: the parameter group index {} does not cover params {}", name_,
                groups_.index.str(), params.str());
  KESTREL_CHECK(state_numel < 0 || state_numel == params.numel(),
                "{}: params have {} elements but the optimizer state holds {} (params {})",
                name_, params.numel(), state_numel, params.str());
}

void Optimizer::check_loaded_state(int64_t step_count, const NamedState& state,
                                   const std::vector<std::string_view>& names) const {
  KESTREL_CHECK(step_count >= 0, "{}: invalid step count {} in loaded state", name_, step_count);
  for (const auto& [name, tensor] : state) {
    KESTREL_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
                  "{}: unexpected state '{}' in loaded state", name_, name);
    KESTREL_CHECK(std::count_if(state.begin(), state.end(),
                                [&](const auto& entry) { return entry.first == name; }) == 1,
                  "{}: state '{}' appears more than once in loaded state", name_, name);
    KESTREL_CHECK(tensor.defined() && tensor.dtype() == DType::F32,
                  "{}: state '{}' must be an f32 tensor, got {}", name_, name, tensor.str());
    KESTREL_CHECK(tensor.numel() == state.front().second.numel(),
                  "{}: state '{}' has {} elements but '{}' has {}", name_, name, tensor.numel(),
                  state.front().first, state.front().second.numel());
  }
  for (std::string_view name : names) {
    KESTREL_CHECK(std::any_of(state.begin(), state.end(),
                              [&](const auto& entry) { return entry.first == name; }),
                  "{}: state '{}' is missing from loaded state", name_, name);
  }
}

Tensor Optimizer::copy_of(const NamedState& state, std::string_view name) {
  const auto it = std::find_if(state.begin(), state.end(),
                               [&](const auto& entry) { return entry.first == name; });
  KESTREL_CHECK(it != state.end(), "state '{}' is missing", name);
  const Tensor& src = it->second;
  Tensor copy = Tensor::empty(Shape{src.numel()}, DType::F32, src.device());
  copy.copy_from(src.view(Shape{src.numel()}));
  return copy;
}

}  // namespace kestrel::optim
