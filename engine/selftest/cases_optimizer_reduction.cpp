// The optimizers' fused updates (two steps each, so momentum and Adam's moments carry over)
// and the reductions of gradient clipping: the global norm read back, and the clipping that
// keeps the norm on the device.
#include <memory>

#include "engine/ops/grad_norm.hpp"
#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

constexpr int64_t kParams = 1031;  // odd: a partial last block
constexpr Tolerance kUpdateTolerance{.rtol = 1e-5, .atol = 1e-6};

std::vector<Output> two_steps(const Context& ctx, uint64_t seed, optim::Optimizer& opt) {
  std::mt19937_64 gen(seed);
  Tensor params = random_input(ctx, Shape{kParams}, gen);
  for (int step = 0; step < 2; ++step) {
    const Tensor grads = random_input(ctx, Shape{kParams}, gen);
    opt.step(ctx, params, grads);
  }
  std::vector<Output> out{output("params", params)};
  for (const auto& [name, tensor] : opt.state()) out.push_back(output(name, tensor));
  return out;
}

std::vector<Output> sgd(const Context& ctx, uint64_t seed) {
  optim::Sgd opt({.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-2f, .nesterov = true});
  return two_steps(ctx, seed, opt);
}

std::vector<Output> adam(const Context& ctx, uint64_t seed) {
  optim::Adam opt({.lr = 1e-2f, .weight_decay = 1e-2f});
  return two_steps(ctx, seed, opt);
}

std::vector<Output> adamw(const Context& ctx, uint64_t seed) {
  optim::Adam opt(optim::AdamOptions::adamw(1e-2f, 1e-2f));
  return two_steps(ctx, seed, opt);
}

std::vector<Output> norm(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, Shape{10007}, gen);
  return {{"norm", {static_cast<float>(ops::l2_norm(ctx, x))}}};
}

std::vector<Output> clip(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Tensor grads = random_input(ctx, Shape{kParams}, gen);
  ops::clip_grad_norm_on_device(ctx, grads, 1.5);
  return {output("grads", grads)};
}

}  // namespace

std::vector<Case> optimizer_and_reduction_cases() {
  return {{"sgd.step (momentum, nesterov)", kUpdateTolerance, false, sgd},
          {"adam.step", kUpdateTolerance, false, adam},
          {"adamw.step", kUpdateTolerance, true, adamw},
          {"l2_norm (reduction)", {.rtol = 1e-6, .atol = 0.0}, true, norm},
          {"clip_grad_norm (on device)", kUpdateTolerance, false, clip}};
}

}  // namespace kestrel::selftest
