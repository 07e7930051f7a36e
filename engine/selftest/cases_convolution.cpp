// Convolutions: cuDNN on a GPU (each direction autotuned once per shape, as in training), two
// geometries (a padded 3x3, a strided grouped 2x2 with dilation) so more than one algorithm runs.
#include <fmt/format.h>

#include "engine/ops/conv2d.hpp"
#include "engine/selftest/case.hpp"

namespace kestrel::selftest {

namespace {

struct ConvProblem {
  Shape x, w;
  ops::Conv2dSpec spec;
};

const ConvProblem kProblems[] = {
    {Shape{2, 3, 8, 8}, Shape{4, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {Shape{2, 4, 9, 9},
     Shape{6, 2, 2, 2},
     {.stride_h = 2, .stride_w = 2, .dilation_h = 2, .dilation_w = 2, .groups = 2}},
};

// f32 sums of at most a few hundred products of values in [-1, 1].
constexpr Tolerance kConvTolerance{.rtol = 1e-4, .atol = 1e-4};

std::vector<Output> forward(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Output> out;
  for (size_t i = 0; i < std::size(kProblems); ++i) {
    const ConvProblem& p = kProblems[i];
    const Tensor x = random_input(ctx, p.x, gen), w = random_input(ctx, p.w, gen);
    const Tensor b = random_input(ctx, Shape{p.w[0]}, gen);
    Tensor y = poisoned(ctx, ops::conv2d_output_shape(p.x, p.w, p.spec));
    ops::conv2d_forward(ctx, x, w, &b, y, p.spec);
    out.push_back(output(fmt::format("y{}", i), y));
  }
  return out;
}

std::vector<Output> backward_data(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Output> out;
  for (size_t i = 0; i < std::size(kProblems); ++i) {
    const ConvProblem& p = kProblems[i];
    const Tensor dy = random_input(ctx, ops::conv2d_output_shape(p.x, p.w, p.spec), gen);
    const Tensor w = random_input(ctx, p.w, gen);
    Tensor dx = poisoned(ctx, p.x);
    ops::conv2d_backward_data(ctx, dy, w, dx, p.spec);
    out.push_back(output(fmt::format("dx{}", i), dx));
  }
  return out;
}

std::vector<Output> backward_weight(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Output> out;
  for (size_t i = 0; i < std::size(kProblems); ++i) {
    const ConvProblem& p = kProblems[i];
    const Tensor x = random_input(ctx, p.x, gen);
    const Tensor dy = random_input(ctx, ops::conv2d_output_shape(p.x, p.w, p.spec), gen);
    Tensor dw = poisoned(ctx, p.w);
    ops::conv2d_backward_weight(ctx, x, dy, dw, p.spec);
    out.push_back(output(fmt::format("dw{}", i), dw));
  }
  return out;
}

std::vector<Output> backward_bias(const Context& ctx, uint64_t seed) {
  std::mt19937_64 gen(seed);
  const Tensor dy = random_input(ctx, Shape{3, 5, 7, 6}, gen);
  Tensor db = poisoned(ctx, Shape{5});
  ops::conv2d_backward_bias(ctx, dy, db);
  return {output("db", db)};
}

}  // namespace

std::vector<Case> convolution_cases() {
  return {{"conv2d.forward", kConvTolerance, true, forward},
          {"conv2d.backward_data", kConvTolerance, true, backward_data},
          {"conv2d.backward_weight", kConvTolerance, true, backward_weight},
          {"conv2d.backward_bias", kConvTolerance, false, backward_bias}};
}

}  // namespace kestrel::selftest
