#pragma once
// erfc_f32: the complementary error function in f32 without a library call, for GELU (exact
// form) on the CPU: libm's erfcf is an opaque call per element, which keeps a loop over it from
// vectorising. Numerical Recipes' Chebyshev fit erfc(a) = t exp(-a^2 + P(t)), t = 1 / (1 + a/2)
// (fractional error below 1.2e-7 for a >= 0), erfc(-a) = 2 - erfc(a), with exp(-a^2) taken as
// exp(-s^2) exp((s - a)(s + a)), s = a with its low 12 mantissa bits cleared, so that s^2 is
// exact and the rounding of a^2 (2e-6 relative at a = 7) does not reach the result.
// tests/engine/erfc_test.cpp measures it against double precision: within 6e-7 relative (the
// f32 evaluation of the fit's alternating polynomial costs up to ~5 ulp near z = 0; GELU's own
// tests ask 2e-6). Branch-free (bit-mask
// selects); |z| is clamped to 10.5, where erfc is already below the smallest f32; NaN stays NaN.
#include <cstdint>

#include "kernels/common/exp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// e^(-a^2) for a >= 0 (or NaN), with a^2 split as above.
KESTREL_HD_INLINE float exp_neg_square(float a) {
  const float s = float_from_bits(bits_of(a) & 0xFFFFF000u);
  return exp_f32(-s * s) * exp_f32((s - a) * (s + a));
}

KESTREL_HD_INLINE float erfc_f32(float z) {
  float a = select_bits(z < 0.0f, -z, z);
  a = select_bits(a > 10.5f, 10.5f, a);  // erfc(10.5) = 1e-49: 0 in f32 (exp_f32(-110) is 0)
  const float t = 1.0f / (1.0f + 0.5f * a);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float s = float_from_bits(bits_of(a) & 0xFFFFF000u);
  const float r = t * exp_f32(-s * s) * exp_f32((s - a) * (s + a) + p);
  return select_bits(z < 0.0f, 2.0f - r, r);
}

}  // namespace kestrel::kernels
