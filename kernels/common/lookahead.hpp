#pragma once
// Lookahead (Zhang et al. 2019) as airbench94 uses it: every k steps the slow weights move
// toward the fast ones and the fast ones restart from there,
//   slow = lerp(slow, fast, w);  fast = slow
// with ATen's lerp rounding (kernels/common/weight_ema.hpp's EmaUpdate: the same formula).
#include <cstdint>

#include "kernels/common/fp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct LookaheadPull {
  float* slow;
  float* fast;
  float weight;         // 1 - decay of this pull
  const int32_t* skip;  // device flag, or null: while *skip != 0 nothing changes

  KESTREL_HD void operator()(int64_t i) const {
    if (skip != nullptr && *skip != 0) return;
    const float s = slow[i], f = fast[i];
    const float diff = fp::add_rn(f, -s);
    const float v = weight < 0.5f ? fp::fma_rn(weight, diff, s)
                                  : fp::fma_rn(fp::add_rn(weight, -1.0f), diff, f);
    slow[i] = v;
    fast[i] = v;
  }
};

}  // namespace kestrel::kernels
