// Batch norm in training mode (batch statistics, running statistics updated on the device)
// and its backward, and every element-wise activation forward and backward.
#include "engine/ops/activation.hpp"
#include "engine/ops/batch_norm.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

constexpr Tolerance kNormTolerance{.rtol = 1e-4, .atol = 1e-5};
// Transcendentals differ by a few ulps between the CPU's libm and CUDA's.
constexpr Tolerance kActivationTolerance{.rtol = 1e-5, .atol = 1e-6};

std::vector<Output> batch_norm(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Shape shape{4, 3, 5, 5};
  const Tensor x = random_input(ctx, shape, gen, -2.0f, 3.0f);
  const Tensor weight = random_input(ctx, Shape{3}, gen), bias = random_input(ctx, Shape{3}, gen);
  ops::BatchNormRunning running{Tensor::zeros(Shape{3}, DType::F32, ctx.device()),
                                Tensor::zeros(Shape{3}, DType::F32, ctx.device()),
                                Tensor::zeros(Shape{}, DType::I64, ctx.device())};
  running.var.fill(1.0f);
  Tensor y = poisoned(ctx, shape), mean = poisoned(ctx, Shape{3}), invstd = poisoned(ctx, Shape{3});
  const ops::BatchNormSpec spec{};
  ops::batch_norm_forward(ctx, x, weight, bias, running, y, mean, invstd, spec);
  const Tensor dy = random_input(ctx, shape, gen);
  Tensor dx = poisoned(ctx, shape), dweight = poisoned(ctx, Shape{3}),
         dbias = poisoned(ctx, Shape{3});
  ops::batch_norm_backward(ctx, x, dy, weight, mean, invstd, &dx, &dweight, &dbias, spec);
  return {output("y", y),
          output("save_mean", mean),
          output("save_invstd", invstd),
          output("running_mean", running.mean),
          output("running_var", running.var),
          output("dx", dx),
          output("dweight", dweight),
          output("dbias", dbias)};
}

using Forward = void (*)(const Context&, const Tensor&, Tensor&);
using Backward = void (*)(const Context&, const Tensor&, const Tensor&, Tensor&);

// x in [-4, 4] covers every piece (relu6's and hardswish's included); backward reads y or x.
std::vector<Output> activation(const Context& ctx, uint64_t seed, Forward forward,
                               Backward backward, bool backward_reads_output) {
  std::mt19937_64 gen(seed);
  const Shape shape{3, 257};
  const Tensor x = random_input(ctx, shape, gen, -4.0f, 4.0f), dy = random_input(ctx, shape, gen);
  Tensor y = poisoned(ctx, shape), dx = poisoned(ctx, shape);
  forward(ctx, x, y);
  backward(ctx, backward_reads_output ? y : x, dy, dx);
  return {output("y", y), output("dx", dx)};
}

Case activation_case(const char* name, bool quick, Forward f, Backward b, bool reads_output) {
  return {name, kActivationTolerance, quick, [=](const Context& ctx, uint64_t seed) {
            return activation(ctx, seed, f, b, reads_output);
          }};
}

void gelu_erf(const Context& c, const Tensor& x, Tensor& y) {
  ops::gelu_forward(c, x, y, ops::GeluApproximation::None);
}
void gelu_erf_backward(const Context& c, const Tensor& x, const Tensor& dy, Tensor& dx) {
  ops::gelu_backward(c, x, dy, dx, ops::GeluApproximation::None);
}
void gelu_tanh(const Context& c, const Tensor& x, Tensor& y) {
  ops::gelu_forward(c, x, y, ops::GeluApproximation::Tanh);
}
void gelu_tanh_backward(const Context& c, const Tensor& x, const Tensor& dy, Tensor& dx) {
  ops::gelu_backward(c, x, dy, dx, ops::GeluApproximation::Tanh);
}

}  // namespace

std::vector<Case> normalization_and_activation_cases() {
  return {
      {"batch_norm (training) forward+backward", kNormTolerance, true, batch_norm},
      activation_case("relu", true, ops::relu_forward, ops::relu_backward, true),
      activation_case("tanh", false, ops::tanh_forward, ops::tanh_backward, true),
      activation_case("sigmoid", false, ops::sigmoid_forward, ops::sigmoid_backward, true),
      activation_case("silu", false, ops::silu_forward, ops::silu_backward, false),
      activation_case("gelu (erf)", false, gelu_erf, gelu_erf_backward, false),
      activation_case("gelu (tanh)", false, gelu_tanh, gelu_tanh_backward, false),
      activation_case("hardswish", false, ops::hardswish_forward, ops::hardswish_backward, false),
      activation_case("relu6", false, ops::relu6_forward, ops::relu6_backward, true),
  };
}

}  // namespace kestrel::selftest
