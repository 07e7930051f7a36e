#pragma once
// exp_f32: e^x in f32 without a library call, so that a loop over it vectorises. libm's expf
// is an opaque call per element: SiLU and sigmoid over an EfficientNet block's activations spent
// a fifth of the block's training pass in it on the CPU. This is Cephes' expf (the range
// reduction x = n ln2 + r, |r| <= ln2 / 2, with ln2 split in two so n ln2 is exact, and a
// degree-7 polynomial for e^r), within about 1 ulp of the true value (tests/engine/exp_test.cpp
// measures it against double precision over the whole range). The same source runs on the GPU.
//
// Branch-free, so that gcc vectorises a loop over it (with a ?: clamp it threads the arithmetic
// into branches, and without -fno-trapping-math it will not turn those back into selects): the
// clamps are bit-mask selects, n is rounded by the 1.5 * 2^23 trick rather than a float-to-int
// conversion (which is undefined for NaN), and 2^n is applied as two factors 2^(n/2) 2^(n - n/2), each a normal
// f32, so that results down to the subnormal e^-103.9 round once, as libm's do. Below -104 the
// result is 0, above 88.73 it is +inf, and NaN stays NaN.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

KESTREL_HD_INLINE float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
KESTREL_HD_INLINE uint32_t bits_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

// c ? a : b by bit masks: no branch for the compiler to thread arithmetic into. Both a and b
// are computed whatever c is.
KESTREL_HD_INLINE float select_bits(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return float_from_bits((bits_of(a) & m) | (bits_of(b) & ~m));
}

KESTREL_HD_INLINE float exp_f32(float x) {
  // Clamped so that both halves of 2^n stay normal; NaN passes both comparisons unchanged.
  x = select_bits(x < -104.0f, -104.0f, x);
  x = select_bits(x > 89.0f, 89.0f, x);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float shifted = x * 1.44269504088896341f + kRound;
  const float n = shifted - kRound;
  // n as an integer, read from the low mantissa bits of `shifted` (|n| < 2^22).
  const int32_t ni = static_cast<int32_t>(bits_of(shifted) - bits_of(kRound));
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t half = ni / 2;  // toward zero: n in [-150, 128], both halves in [-75, 64]
  const float scale_a = float_from_bits(static_cast<uint32_t>(half + 127) << 23);
  const float scale_b = float_from_bits(static_cast<uint32_t>(ni - half + 127) << 23);
  return (p * scale_a) * scale_b;
}

}  // namespace kestrel::kernels
