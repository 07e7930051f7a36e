#pragma once
// Per-row classification metrics: argmax (torch.argmax), top-1 and top-k hits. One call per
// row (= one sample); the op sums the hits in a fixed order.
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// NaN ranks above every number, as in torch.argmax and torch.topk (x != x only for NaN).
KESTREL_HD_INLINE bool ranks_above(float a, float b) { return a > b || (a != a && b == b); }

// Index of the first maximum of z[0, classes), like torch.argmax.
KESTREL_HD_INLINE int64_t row_argmax(const float* z, int64_t classes) {
  int64_t best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (ranks_above(z[j], z[best])) best = j;
  return best;
}

struct ArgmaxRows {
  const float* logits;  // [N, C]
  int32_t* out;         // [N]
  int64_t classes;
  KESTREL_HD void operator()(int64_t r) const {
    out[r] = static_cast<int32_t>(row_argmax(logits + r * classes, classes));
  }
};

// hits[r] = 1 when the row's argmax is its label.
struct Top1Hits {
  const float* logits;
  const int32_t* labels;
  int32_t* hits;
  int64_t classes;
  KESTREL_HD void operator()(int64_t r) const {
    hits[r] = row_argmax(logits + r * classes, classes) == labels[r] ? 1 : 0;
  }
};

// hits[r] = 1 when fewer than k logits rank strictly above the label's logit: the label is
// among the k largest, and a tie at the k-th place counts in the label's favour.
struct TopkHits {
  const float* logits;
  const int32_t* labels;  // each in [0, C) (checked by the op)
  int32_t* hits;
  int64_t classes;
  int64_t k;
  KESTREL_HD void operator()(int64_t r) const {
    const float* z = logits + r * classes;
    if (labels[r] < 0 || labels[r] >= classes) {  // the op checks first; never read out of bounds
      hits[r] = 0;
      return;
    }
    const float target = z[labels[r]];
    int64_t above = 0;
    for (int64_t j = 0; j < classes; ++j) above += ranks_above(z[j], target) ? 1 : 0;
    hits[r] = above < k ? 1 : 0;
  }
};

}  // namespace kestrel::kernels
