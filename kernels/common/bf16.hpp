#pragma once
// bfloat16: the top half of an IEEE float (sign, the same 8 exponent bits, 7 of the 23
// mantissa bits). Tensor cores multiply bf16 operands and accumulate in f32, so a bf16
// convolution or product differs from an f32 one by the rounding of its operands (and of
// cuDNN's output, which is bf16 too). These functions and functors are that rounding, shared
// by the GPU (which packs real 16-bit operands) and the CPU (which emulates them: floats
// rounded to the nearest bf16, then the f32 kernels), so the CPU stays the GPU's oracle.
#include <cstdint>
#include <cstring>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

KESTREL_HD_INLINE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

KESTREL_HD_INLINE float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Round to nearest, ties to even (what __float2bfloat16_rn and PyTorch do). Values past the
// largest bf16 round to infinity; NaN stays NaN (made quiet, so no payload rounds it to inf).
KESTREL_HD_INLINE uint16_t bf16_from_float(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

KESTREL_HD_INLINE float float_from_bf16(uint16_t b) {
  return bits_float(static_cast<uint32_t>(b) << 16);
}

KESTREL_HD_INLINE float round_to_bf16(float f) { return float_from_bf16(bf16_from_float(f)); }

// Where element i of a [n, channels, plane] tensor sits when it is stored channels-last,
// [n, plane, channels] (NHWC for images, KRSC for filters).
KESTREL_HD_INLINE int64_t channels_last_index(int64_t i, int64_t channels, int64_t plane) {
  const int64_t p = i % plane;
  const int64_t nc = i / plane;
  return ((nc / channels) * plane + p) * channels + nc % channels;
}

// CPU emulation: y[i] = bf16(x[i]) (+ bias[channel]), kept in f32. In place is fine.
struct RoundToBf16 {
  const float* x;
  float* y;
  const float* bias = nullptr;  // per channel of a [n, channels, plane] tensor, or none
  int64_t channels = 1, plane = 1;
  KESTREL_HD void operator()(int64_t i) const {
    float v = round_to_bf16(x[i]);
    if (bias != nullptr) v += bias[(i / plane) % channels];
    y[i] = v;
  }
};

// GPU operands: an f32 [n, channels, plane] tensor as bf16 bits, in the same order or
// channels-last. Runs over the source, so the f32 reads are contiguous.
struct PackBf16 {
  const float* x;
  uint16_t* y;
  int64_t channels = 1, plane = 1;
  bool channels_last = false;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t to = channels_last ? channels_last_index(i, channels, plane) : i;
    y[to] = bf16_from_float(x[i]);
  }
};

// A bf16 result (cuDNN's output or gradient, same order or channels-last) back into an f32
// [n, channels, plane] tensor, plus a per-channel bias where there is one.
struct UnpackBf16 {
  const uint16_t* x;
  float* y;
  const float* bias = nullptr;
  int64_t channels = 1, plane = 1;
  bool channels_last = false;
  KESTREL_HD void operator()(int64_t i) const {
    const int64_t from = channels_last ? channels_last_index(i, channels, plane) : i;
    float v = float_from_bf16(x[from]);
    if (bias != nullptr) v += bias[(i / plane) % channels];
    y[i] = v;
  }
};

}  // namespace kestrel::kernels
