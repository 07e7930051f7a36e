#pragma once
// Element-wise activations forward and backward as element functors (one output element per
// call): ReLU, tanh, sigmoid, SiLU, GELU, Hardswish and ReLU6, with PyTorch's definitions and its
// gradient conventions at the kinks (the ATen source lines are quoted where they decide).
#include <cmath>
#include <cstdint>

#include "kernels/common/erfc.hpp"
#include "kernels/common/exp.hpp"
#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

struct ReluForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = x[i] > 0.0f ? x[i] : 0.0f; }
};

// dx = dy where the forward output was positive. Uses the output y, so it also works when the
// forward ran in place. Both inputs are read unconditionally so that the choice compiles to a
// select (vectorised, no branch to mispredict) rather than a conditional load.
struct ReluBackward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float g = dy[i];
    dx[i] = y[i] > 0.0f ? g : 0.0f;
  }
};

struct TanhForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = ::tanhf(x[i]); }
};

// dx = dy * (1 - y^2), tanh's derivative written with the forward output, so that the forward
// may run in place and the backward needs no input.
struct TanhBackward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const { dx[i] = dy[i] * (1.0f - y[i] * y[i]); }
};

// sigmoid(|x|) and sigmoid(-|x|) = 1 - sigmoid(|x|) from exp(-|x|), which never overflows:
// the naive 1 / (1 + exp(-x)) overflows its exp for x < -88 (harmless, it then rounds to 0)
// and loses every digit of 1 - sigmoid(x) for large x; this pair keeps both to a few ulp.
struct SigmoidPair {
  float of_abs;      // sigmoid(|x|), in [0.5, 1]
  float of_neg_abs;  // sigmoid(-|x|) = 1 - sigmoid(|x|), in [0, 0.5]
};
KESTREL_HD_INLINE SigmoidPair sigmoid_pair(float x) {
  const float e = exp_f32(-::fabsf(x));  // vectorises, unlike libm's expf (exp.hpp)
  const float d = 1.0f + e;
  return SigmoidPair{1.0f / d, e / d};
}
// sigmoid(x) and 1 - sigmoid(x), each without cancellation. NaN gives NaN.
KESTREL_HD_INLINE float stable_sigmoid(float x) {
  const SigmoidPair p = sigmoid_pair(x);
  return select_bits(x >= 0.0f, p.of_abs, p.of_neg_abs);  // a select, so loops vectorise
}
KESTREL_HD_INLINE float stable_sigmoid_complement(float x) {
  const SigmoidPair p = sigmoid_pair(x);
  return select_bits(x >= 0.0f, p.of_neg_abs, p.of_abs);
}

// torch.sigmoid: 1 / (1 + exp(-x)), computed as above.
struct SigmoidForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = stable_sigmoid(x[i]); }
};

// dx = dy * (1 - y) * y from the forward output, in ATen's order (sigmoid_backward:
// `a * (one - b) * b`, a = grad, b = output), so the forward may run in place.
struct SigmoidBackward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float s = y[i];
    dx[i] = dy[i] * (1.0f - s) * s;
  }
};

// torch.nn.SiLU: x * sigmoid(x) (ATen: x / (1 + exp(-x)); the same function, without the
// overflowing exp).
struct SiluForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const { y[i] = x[i] * stable_sigmoid(x[i]); }
};

// ATen's silu_backward from the input: dy * s * (1 + x * (1 - s)), s = sigmoid(x), with 1 - s
// computed directly (for large x it is exp(-x), not the 0 that 1 - s rounds to).
struct SiluBackward {
  const float* x;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    const SigmoidPair p = sigmoid_pair(v);
    const float s = select_bits(v >= 0.0f, p.of_abs, p.of_neg_abs);
    const float one_minus_s = select_bits(v >= 0.0f, p.of_neg_abs, p.of_abs);
    dx[i] = dy[i] * s * (1.0f + v * one_minus_s);
  }
};

// GELU constants in f32, as ATen's kernels round them: 1/sqrt(2), 1/sqrt(2 pi), sqrt(2/pi) and
// the tanh form's 0.044715.
inline constexpr float kGeluSqrtHalf = 0.70710678118654752440f;
inline constexpr float kGeluInvSqrt2Pi = 0.39894228040143267794f;
inline constexpr float kGeluSqrt2OverPi = 0.79788456080286535588f;
inline constexpr float kGeluKappa = 0.044715f;

// torch.nn.GELU. approximate='none': x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), written with
// erfc(-x / sqrt 2) = 1 + erf(x / sqrt 2) so that the negative tail does not cancel to 0.
// approximate='tanh': 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as
// x * sigmoid(2u) (the same function: 1 + tanh(u) = 2 sigmoid(2u)) for the same reason.
// One functor per form, so that each loop is straight-line code the compiler vectorises.
struct GeluErfForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    y[i] = v * 0.5f * erfc_f32(-v * kGeluSqrtHalf);  // vectorises, unlike libm's (erfc.hpp)
  }
};
struct GeluTanhForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    const float u = kGeluSqrt2OverPi * (v + kGeluKappa * v * v * v);
    y[i] = v * stable_sigmoid(2.0f * u);
  }
};

// From the input, as ATen's GeluBackwardKernelImpl. none: dy * (Phi(x) + x phi(x)).
struct GeluErfBackward {
  const float* x;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    const float cdf = 0.5f * erfc_f32(-v * kGeluSqrtHalf);
    const float pdf = kGeluInvSqrt2Pi * exp_neg_square(::fabsf(v) * kGeluSqrtHalf);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
};
// tanh: dy * (s + 2 x s (1 - s) u'), s = sigmoid(2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2):
// ATen's 0.5 (1 + t) + 0.5 x (1 - t^2) u' with t = tanh(u) = 2s - 1. Where s (1 - s) is 0 the
// second term is 0 (for |x| > 1.8e19, x^2 and u' overflow and 0 * inf would give NaN).
struct GeluTanhBackward {
  const float* x;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    const float x_sq = v * v;
    const float u = kGeluSqrt2OverPi * (v + kGeluKappa * x_sq * v);
    const float s = stable_sigmoid(2.0f * u);
    const float one_minus_s = stable_sigmoid_complement(2.0f * u);
    const float ss = s * one_minus_s;
    const float du = kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluKappa * x_sq);
    const float tail = select_bits(ss == 0.0f, 0.0f, 2.0f * v * ss * du);
    dx[i] = dy[i] * (s + tail);
  }
};

// torch.nn.Hardswish: x * relu6(x + 3) / 6, in ATen's order (hardswish_kernel:
// `x * std::min(std::max(x + three, zero), six) / six`). A NaN stays NaN.
struct HardswishForward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    float r = v + 3.0f;
    r = r < 0.0f ? 0.0f : r;
    r = r > 6.0f ? 6.0f : r;
    y[i] = v * r / 6.0f;
  }
};

// From the input, with ATen's convention at the kinks (hardswish_backward in
// aten/src/ATen/native/cpu/Activation.cpp and cuda/ActivationHardswishKernel.cu):
//   if (self_val <= neg_three) return zero;
//   else if (self_val < three) return grad_val * ((self_val / three) + one_half);
//   else return grad_val;
// so the gradient is 0 at x = -3 and 1 at x = 3, as torch.nn.Hardswish's documentation has it.
// (PyTorch before pytorch/pytorch#148049, 2025, gave -0.5 at -3 and 1.5 at 3.)
struct HardswishBackward {
  const float* x;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    const float g = dy[i];
    dx[i] = v <= -3.0f ? 0.0f : (v < 3.0f ? g * (v / 3.0f + 0.5f) : g);
  }
};

// torch.nn.ReLU6 = Hardtanh(0, 6): clamp(x, 0, 6), min(max(x, 0), 6) as ATen's clamp (a NaN
// stays NaN).
struct Relu6Forward {
  const float* x;
  float* y;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = x[i];
    y[i] = v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
  }
};

// ATen's hardtanh_backward, `(self_val <= min_val || self_val >= max_val) ? 0 : grad_val`:
// 0 at and beyond both edges. Applied to the output y (as autograd does for the in-place
// hardtanh_), which selects exactly the same elements: y <= 0 iff x <= 0, y >= 6 iff x >= 6, and
// a NaN passes the gradient either way.
struct Relu6Backward {
  const float* y;
  const float* dy;
  float* dx;
  KESTREL_HD void operator()(int64_t i) const {
    const float v = y[i];
    const float g = dy[i];
    dx[i] = (v <= 0.0f || v >= 6.0f) ? 0.0f : g;
  }
};

}  // namespace kestrel::kernels
