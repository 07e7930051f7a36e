#pragma once
// What the tests of the element-wise activations share (sigmoid, silu, gelu, hardswish, relu6):
// an activation as its forward and backward ops, inputs with chosen values planted among random
// ones (kinks, large |x|), inputs kept away from kinks for central differences, in-place runs
// and 1 against 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <vector>

#include "engine/runtime/context.hpp"
#include "engine/tensor/tensor.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/random.hpp"

namespace kestrel::test {

struct Activation {
  std::function<void(const Context&, const Tensor&, Tensor&)> forward;
  // backward(ctx, saved, dy, dx) with saved = y when from_output, else x.
  std::function<void(const Context&, const Tensor&, const Tensor&, Tensor&)> backward;
  bool from_output;
};

// dx for input x and output gradient dy (forward first when the backward reads y).
inline Tensor activation_grad(const Context& ctx, const Activation& a, const Tensor& x,
                              const Tensor& dy) {
  Tensor dx = Tensor::empty(x.shape());
  if (a.from_output) {
    Tensor y = Tensor::empty(x.shape());
    a.forward(ctx, x, y);
    a.backward(ctx, y, dy, dx);
  } else {
    a.backward(ctx, x, dy, dx);
  }
  return dx;
}

// Uniform in [lo, hi) with `planted` values written over the first elements (as many as fit).
inline Tensor input_with(const Shape& shape, std::mt19937_64& gen, float lo, float hi,
                         std::initializer_list<float> planted) {
  Tensor t = random_tensor(shape, gen, lo, hi);
  float* p = t.data<float>();
  int64_t i = 0;
  for (float v : planted) {
    if (i >= t.numel()) break;
    p[i++] = v;
  }
  return t;
}

// Moves every element within `margin` of a kink to kink + 2 margin (central differences
// straddling a kink would measure the average of two slopes).
inline void keep_away_from(Tensor& t, std::initializer_list<float> kinks, float margin) {
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    for (float k : kinks)
      if (std::fabs(p[i] - k) < margin) p[i] = k + 2.0f * margin;
}

// The forward in place (y is x) and the backward in place (dx is dy) give the bits of the
// out-of-place runs.
inline void expect_in_place_same_bits(const Activation& a, const Tensor& x0, const Tensor& dy0) {
  Context ctx;
  Tensor y = Tensor::empty(x0.shape()), dx = Tensor::empty(x0.shape());
  a.forward(ctx, x0, y);
  a.backward(ctx, a.from_output ? y : x0, dy0, dx);
  Tensor x = x0.to(Device::cpu()), dy = dy0.to(Device::cpu());
  if (a.from_output) {
    a.forward(ctx, x, x);  // x now holds y
    a.backward(ctx, x, dy, dy);
  } else {
    a.backward(ctx, x, dy, dy);  // the backward first: the in-place forward overwrites x
    a.forward(ctx, x, x);
  }
  EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), y.nbytes()), 0) << "forward in place";
  EXPECT_EQ(std::memcmp(dy.raw_data(), dx.raw_data(), dx.nbytes()), 0) << "backward in place";
}

// Forward and backward with 1 and with 2 threads give the same bits, on a shape above
// cpu::kMinParallelWork (the launch runs on both threads).
inline void expect_same_bits_with_1_and_2_threads(const Activation& a, const Tensor& x,
                                                  const Tensor& dy) {
  Context ctx;
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(x.shape());
    a.forward(ctx, x, y);
    Tensor dx = activation_grad(ctx, a, x, dy);
    cpu::set_num_threads(0);
    return std::make_pair(y, dx);
  };
  const auto one = run(1), two = run(2);
  EXPECT_EQ(std::memcmp(one.first.raw_data(), two.first.raw_data(), one.first.nbytes()), 0);
  EXPECT_EQ(std::memcmp(one.second.raw_data(), two.second.raw_data(), one.second.nbytes()), 0);
}

// Element-wise float64 reference over a vector.
inline std::vector<double> map64(const std::vector<double>& x, double (*f)(double)) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = f(x[i]);
  return y;
}

}  // namespace kestrel::test
