#pragma once
// A batch of row-major products C_b = alpha op(A_b) op(B_b) + beta C_b, op(A_b) [m, k] and
// op(B_b) [k, n], over a two-level batch b = (o, i), o < outer, i < inner. Each operand's
// matrix b starts at base + o * outer_stride + i * inner_stride elements and has its own leading
// dimension, so the heads of attention (head h of sample n: a column block of a [T, 3D] row of
// q, k and v) are addressed where they lie, without copies.
#include <cstdint>

namespace kestrel::kernels {

struct StridedMatrices {
  int64_t ld = 0;  // row stride (elements) of the stored, untransposed matrix
  int64_t outer_stride = 0;
  int64_t inner_stride = 0;

  constexpr int64_t offset(int64_t o, int64_t i) const {
    return o * outer_stride + i * inner_stride;
  }
};

struct BatchedGemm {
  int64_t outer = 1, inner = 1;
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;
  StridedMatrices a, b, c;

  constexpr int64_t count() const { return outer * inner; }
};

}  // namespace kestrel::kernels
