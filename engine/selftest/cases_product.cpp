// Matrix products: the forward on cuBLASLt with bias and ReLU in its epilogue, the one-row
// forward that kestrel keeps on classic cuBLAS (cuBLASLt refuses it), and both backward
// products (classic cuBLAS), plus the bias gradient's column sums.
#include "engine/ops/linear.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

constexpr Tolerance kProductTolerance{.rtol = 1e-4, .atol = 1e-4};
constexpr int64_t kIn = 24, kOut = 10;

std::vector<Output> forward(const Context& ctx, uint64_t seed, int64_t rows) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, Shape{rows, kIn}, gen);
  const Tensor w = random_input(ctx, Shape{kOut, kIn}, gen);
  const Tensor b = random_input(ctx, Shape{kOut}, gen);
  Tensor y = poisoned(ctx, Shape{rows, kOut});
  ops::linear_forward(ctx, x, w, &b, y, /*relu=*/true);
  return {output("y", y)};
}

std::vector<Output> backward_data(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor dy = random_input(ctx, Shape{6, kOut}, gen);
  const Tensor w = random_input(ctx, Shape{kOut, kIn}, gen);
  Tensor dx = poisoned(ctx, Shape{6, kIn});
  ops::linear_backward_data(ctx, dy, w, dx);
  return {output("dx", dx)};
}

std::vector<Output> backward_weight(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor x = random_input(ctx, Shape{6, kIn}, gen);
  const Tensor dy = random_input(ctx, Shape{6, kOut}, gen);
  Tensor dw = poisoned(ctx, Shape{kOut, kIn});
  ops::linear_backward_weight(ctx, x, dy, dw);
  return {output("dw", dw)};
}

std::vector<Output> backward_bias(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor dy = random_input(ctx, Shape{37, kOut}, gen);
  Tensor db = poisoned(ctx, Shape{kOut});
  ops::linear_backward_bias(ctx, dy, db);
  return {output("db", db)};
}

}  // namespace

std::vector<Case> product_cases() {
  return {{"linear.forward (cuBLASLt, bias+ReLU epilogue)", kProductTolerance, true,
           [](const Context& ctx, uint64_t seed) { return forward(ctx, seed, 6); }},
          {"linear.forward (cuBLAS, one row)", kProductTolerance, false,
           [](const Context& ctx, uint64_t seed) { return forward(ctx, seed, 1); }},
          {"linear.backward_data (cuBLAS)", kProductTolerance, true, backward_data},
          {"linear.backward_weight (cuBLAS)", kProductTolerance, false, backward_weight},
          {"linear.backward_bias", kProductTolerance, false, backward_bias}};
}

}  // namespace kestrel::selftest
