#pragma once
// Optimizer updates as element functors over one flat parameter buffer: element i of the
// parameters, gradients and state buffers is updated by one call, so the whole model takes one
// launch per step. The float operations follow torch.optim's default single-tensor path on the
// CPU, operation by operation, so a step agrees with PyTorch on the same numbers:
//   - `grad.add(param, alpha=wd)` and `param.add_(grad, alpha=-lr)` run ATen's vectorised add,
//     which is one fused multiply-add (vec::fmadd(other, alpha, self)): fmaf here.
//   - `exp_avg.lerp_(grad, 1 - beta1)` runs ATen's lerp: for a weight w < 0.5 it is
//     fma(w, end - self, self), otherwise fma(w - 1, end - self, end), with w rounded to f32.
//   - `addcmul_(g, g, value=c)` is self + (c * g) * g and `addcdiv_(m, d, value=-s)` is
//     self + (-s * m) / d, in that order, each operation rounded on its own.
// The scalars that depend on the step number (bias corrections, step size) are computed on
// the host in double, as Python does, rounded to f32 and read from device memory.
//
// Products and sums are kept apart through fp::mul_rn/add_rn (kernels/common/fp.hpp), so the
// CUDA launch gives the same bits as the CPU.
#include <cmath>
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// Parameter groups, as torch.optim's param_groups: element i of the flat buffer belongs to
// group group[i] (a u8 index the graph builds once from its parameters' shapes or names), or
// every element to group 0 when the index is null. What differs between groups is a per-group
// table: the weight decay in the functor, and the learning rate (and what Adam derives from
// it) among the step scalars, since it changes every step.
inline constexpr int kMaxParamGroups = 4;

KESTREL_HD inline int param_group(const uint8_t* group, int64_t i) {
  return group != nullptr ? group[i] : 0;
}

// torch.optim.SGD:
//   g = grad + wd * p
//   if momentum != 0: buf = first ? g : momentum * buf + (1 - dampening) * g
//                     g = nesterov ? g + momentum * buf : buf
//   p = p - lr * g
// with lr and wd those of the element's group.
struct SgdStep {
  float* param;
  const float* grad;
  float* momentum_buffer;  // null when momentum == 0
  const float* lr;         // device memory: each group's rate this step (StoreStepScalars)
  float momentum;
  float one_minus_dampening;  // 1 - dampening, computed in double like Python does
  float weight_decay[kMaxParamGroups];  // per group, as torch's group["weight_decay"]
  const uint8_t* group;                 // per element, or null: every element in group 0
  bool nesterov;
  bool init_buffer;  // the buffer is new this step: it takes the gradient itself
  const int32_t* skip;  // device flag, or null: while *skip != 0 nothing is updated

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    const int k = param_group(group, i);
    update(i, weight_decay[k], lr[k]);
  }

  // The host's loop (cpu::launch): the flag and the rates read once, the functor copied to a
  // local that no parameter store can alias, so that the loop vectorises.
  void run_range(int64_t begin, int64_t end) const {
    if (skip != nullptr && *skip != 0) return;
    const SgdStep f = *this;
    float rate[kMaxParamGroups];
    for (int k = 0; k < kMaxParamGroups; ++k) rate[k] = lr[k];
    if (group == nullptr) {
      const float wd = f.weight_decay[0], r = rate[0];
      for (int64_t i = begin; i < end; ++i) f.update(i, wd, r);
      return;
    }
    for (int64_t i = begin; i < end; ++i) f.update(i, f.weight_decay[group[i]], rate[group[i]]);
  }

  // Element i's update with its group's weight decay and rate.
  KESTREL_HD void update(int64_t i, float wd, float rate) const {
    const float p = param[i];
    float g = grad[i];
    if (wd != 0.0f) g = fp::fma_rn(p, wd, g);
    if (momentum_buffer != nullptr) {
      const float buf = init_buffer ? g
                                    : fp::fma_rn(g, one_minus_dampening,
                                                 fp::mul_rn(momentum_buffer[i], momentum));
      momentum_buffer[i] = buf;
      g = nesterov ? fp::fma_rn(buf, momentum, g) : buf;
    }
    param[i] = fp::fma_rn(g, -rate, p);
  }
};

// Both read an optional skip flag in device memory (the step ledger's halt flag): the host
// launches every step without knowing its loss, and a step after a non-finite loss changes
// neither the parameters nor the state.
//
// The step-dependent scalars of one Adam step, computed once on the host and stored in device
// memory by StoreStepScalars before the step's update reads them.
struct AdamScalars {
  float step_size[kMaxParamGroups];     // per group: lr / (1 - beta1^t)
  float bias_correction2_sqrt;          // sqrt(1 - beta2^t)
  float decay_factor[kMaxParamGroups];  // per group: 1 - lr * wd (AdamW only)
};

// One call: the values a step's update reads from device memory (its rate, Adam's bias
// corrections), written before it by a launch of their own. The update's launch is then the
// same every step: it can be captured once in a CUDA Graph and replayed.
struct StoreStepScalars {
  static constexpr int kMax = 12;
  static_assert(sizeof(AdamScalars) <= kMax * sizeof(float));
  float* dst;
  float values[kMax];
  int count;
  KESTREL_HD void operator()(int64_t) const {
    for (int k = 0; k < count; ++k) dst[k] = values[k];
  }
};

// torch.optim.Adam (decoupled == false) and torch.optim.AdamW (decoupled == true):
//   Adam:  g = grad + wd * p          AdamW: p = p * (1 - lr * wd)
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
//   p = p - step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with wd, step_size and the decay factor those of the element's group.
struct AdamStep {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  float lerp_weight;  // 1 - beta1
  float beta2;
  float one_minus_beta2;
  float eps;
  float weight_decay[kMaxParamGroups];  // per group; 0: no decay in that group
  const uint8_t* group;                 // per element, or null: every element in group 0
  bool decoupled;
  const AdamScalars* s;  // device memory (StoreStepScalars)
  const int32_t* skip;  // device flag, or null: while *skip != 0 nothing is updated

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    const int k = param_group(group, i);
    update(i, weight_decay[k], s->decay_factor[k], s->step_size[k], s->bias_correction2_sqrt);
  }

  // The host's loop (cpu::launch): the flag and the step's scalars read once, the functor
  // copied to a local that no parameter store can alias, so that the loop vectorises.
  void run_range(int64_t begin, int64_t end) const {
    if (skip != nullptr && *skip != 0) return;
    const AdamStep f = *this;
    const AdamScalars sc = *s;
    if (group == nullptr) {
      const float wd = f.weight_decay[0], decay = sc.decay_factor[0], step = sc.step_size[0];
      for (int64_t i = begin; i < end; ++i) f.update(i, wd, decay, step, sc.bias_correction2_sqrt);
      return;
    }
    for (int64_t i = begin; i < end; ++i) {
      const int k = group[i];
      f.update(i, f.weight_decay[k], sc.decay_factor[k], sc.step_size[k], sc.bias_correction2_sqrt);
    }
  }

  // Element i's update with its group's weight decay, decay factor and step size.
  KESTREL_HD void update(int64_t i, float wd, float decay_factor, float step_size,
                         float bias_correction2_sqrt) const {
    float p = param[i];
    float g = grad[i];
    if (wd != 0.0f) {
      if (decoupled) {
        p = fp::mul_rn(p, decay_factor);
      } else {
        g = fp::fma_rn(p, wd, g);
      }
    }
    const float m_old = exp_avg[i];
    const float diff = fp::add_rn(g, -m_old);
    const float m = lerp_weight < 0.5f ? fp::fma_rn(lerp_weight, diff, m_old)
                                       : fp::fma_rn(fp::add_rn(lerp_weight, -1.0f), diff, g);
    const float v =
        fp::add_rn(fp::mul_rn(exp_avg_sq[i], beta2), fp::mul_rn(fp::mul_rn(one_minus_beta2, g), g));
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const float denom = fp::add_rn(::sqrtf(v) / bias_correction2_sqrt, eps);
    param[i] = fp::add_rn(p, fp::mul_rn(-step_size, m) / denom);
  }
};

}  // namespace kestrel::kernels
