// bf16 operands (MathOptions::bf16): a GPU packs bf16 bits (channels-last for cuDNN) and runs
// the tensor cores; the CPU reference rounds f32 copies to bf16 and runs its f32 kernels, the
// emulation docs/mixed-precision.md describes.
#include "engine/ops/conv2d.hpp"
#include "engine/ops/linear.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

// The operands are rounded alike on both sides, so only the accumulation order differs, and a
// bf16 result may land on the neighbouring bf16 (one step, 2^-7 relative). The convolution's
// bias is added after that rounding, so where it nearly cancels the sum the miss is one step of
// the sum, not of the result: 2^-4 for |sum| in [8, 16) (the sums here spread about 2.8).
constexpr Tolerance kBf16Tolerance{.rtol = 1e-2, .atol = 7e-2};

Context with_bf16(const Context& ctx) {
  Context c = ctx;
  MathOptions math = c.math();
  math.bf16 = true;
  math.tf32 = false;
  c.set_math(math);
  return c;
}

std::vector<Output> conv(const Context& base, uint64_t seed) {
  const Context ctx = with_bf16(base);
  std::mt19937_64 gen(seed);
  const ops::Conv2dSpec spec{.pad_h = 1, .pad_w = 1};
  const Shape xs{2, 8, 6, 6}, ws{8, 8, 3, 3};
  const Tensor x = random_input(ctx, xs, gen), w = random_input(ctx, ws, gen);
  const Tensor b = random_input(ctx, Shape{8}, gen);
  Tensor y = poisoned(ctx, ops::conv2d_output_shape(xs, ws, spec));
  ops::conv2d_forward(ctx, x, w, &b, y, spec);
  const Tensor dy = random_input(ctx, y.shape(), gen);
  Tensor dx = poisoned(ctx, xs), dw = poisoned(ctx, ws);
  ops::conv2d_backward_data(ctx, dy, w, dx, spec);
  ops::conv2d_backward_weight(ctx, x, dy, dw, spec);
  return {output("y", y), output("dx", dx), output("dw", dw)};
}

std::vector<Output> linear(const Context& base, uint64_t seed) {
  const Context ctx = with_bf16(base);
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, Shape{8, 32}, gen), w = random_input(ctx, Shape{16, 32}, gen);
  const Tensor b = random_input(ctx, Shape{16}, gen);
  Tensor y = poisoned(ctx, Shape{8, 16});
  ops::linear_forward(ctx, x, w, &b, y, /*relu=*/false);
  const Tensor dy = random_input(ctx, Shape{8, 16}, gen);
  Tensor dx = poisoned(ctx, Shape{8, 32}), dw = poisoned(ctx, Shape{16, 32});
  ops::linear_backward_data(ctx, dy, w, dx);
  ops::linear_backward_weight(ctx, x, dy, dw);
  return {output("y", y), output("dx", dx), output("dw", dw)};
}

}  // namespace

std::vector<Case> bf16_cases() {
  return {{"bf16 conv2d (cuDNN, channels-last)", kBf16Tolerance, false, conv, true},
          {"bf16 linear (cuBLASLt/cuBLAS)", kBf16Tolerance, false, linear, true}};
}

}  // namespace kestrel::selftest
