#pragma once
// The exponential moving average of the flat parameter buffer, one element per call, so the
// whole model's average takes one launch after each optimizer step.
//   ema = lerp(ema, param, w),  w = 1 - decay_t
// is torch.optim.swa_utils.get_ema_multi_avg_fn's torch._foreach_lerp_, in ATen's lerp
// formula (kernels/common/optimizers.hpp): fma(w, p - e, e) for w < 0.5, else
// fma(w - 1, p - e, p). w changes with the update count (the warm-up), so it is read from
// device memory (StoreStepScalars) and the launch stays the same every step (CUDA Graphs).
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct EmaUpdate {
  float* ema;
  const float* param;
  const float* weight;  // device memory: 1 - decay_t
  const int32_t* skip;  // device flag, or null: while *skip != 0 nothing is updated

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    update(i, *weight);
  }

  // The host's loop (cpu::launch): the flag and the weight read once, so that it vectorises.
  void run_range(int64_t begin, int64_t end) const {
    if (skip != nullptr && *skip != 0) return;
    const EmaUpdate f = *this;
    const float w = *weight;
    for (int64_t i = begin; i < end; ++i) f.update(i, w);
  }

  KESTREL_HD void update(int64_t i, float w) const {
    const float e = ema[i], p = param[i];
    const float diff = fp::add_rn(p, -e);
    ema[i] = w < 0.5f ? fp::fma_rn(w, diff, e) : fp::fma_rn(fp::add_rn(w, -1.0f), diff, p);
  }
};

// Exchanges two f32 buffers element by element: the averaged weights go into the model for an
// evaluation and come back out after it, without a third buffer.
struct SwapBuffers {
  float* a;
  float* b;
  KESTREL_HD void operator()(int64_t i) const {
    const float t = a[i];
    a[i] = b[i];
    b[i] = t;
  }
};

}  // namespace kestrel::kernels
