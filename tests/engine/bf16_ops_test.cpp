// MathOptions::bf16 on the CPU, the oracle of the GPU's bf16 path: convolutions and linear
// layers take bf16-rounded operands, accumulate in f32, and convolutions round their result to
// bf16 (as cuDNN's bf16 configuration writes it) before adding the f32 bias. Checked against
// float64 references written here, computed on operands rounded to bf16. Every convolution
// output must be a bf16 value within half a bf16 step (plus f32 summation slack) of the exact
// result, and nearly all must be that exact result rounded; linear outputs stay f32 and must
// match to f32 accuracy. Each test also shows the switch matters: the result is measurably
// different from the f32 one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/conv2d.hpp"
#include "engine/ops/linear.hpp"
#include "kernels/common/bf16.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

Context bf16_context() {
  Context ctx;
  ctx.set_math({.bf16 = true});
  return ctx;
}

// The operand as the bf16 path sees it, in double.
std::vector<double> rounded(const Tensor& t) {
  std::vector<double> out;
  for (float v : t.to_vector()) out.push_back(static_cast<double>(kernels::round_to_bf16(v)));
  return out;
}

double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// A bf16 step at |v|: 2^(exponent - 7).
double bf16_step(double v) {
  if (v == 0.0) return 0.0;
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e-1), 2^e)
  return std::ldexp(1.0, e - 1 - 7);
}

// Every element of `actual` (no bias added) is a bf16 value within half a step of the exact
// `expected` (plus `slack` for f32 summation), and at least 97% are exactly expected rounded.
::testing::AssertionResult rounded_result_matches(const std::vector<double>& expected,
                                                  const Tensor& actual, double slack) {
  const std::vector<float> a = actual.to_vector();
  size_t exact = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &a[i], sizeof bits);
    if ((bits & 0xffffu) != 0)
      return ::testing::AssertionFailure() << "element " << i << " = " << a[i] << " is not bf16";
    const double error = std::fabs(double(a[i]) - expected[i]);
    if (error > 0.5 * bf16_step(expected[i]) + slack)
      return ::testing::AssertionFailure()
             << "element " << i << " = " << a[i] << ", exact " << expected[i] << ": off by "
             << error << ", more than half a bf16 step";
    if (a[i] == kernels::round_to_bf16(static_cast<float>(expected[i]))) ++exact;
  }
  if (exact < a.size() * 97 / 100)
    return ::testing::AssertionFailure()
           << "only " << exact << " of " << a.size() << " elements are the exact result rounded";
  return ::testing::AssertionSuccess();
}

struct ConvCase {
  std::string name;
  Shape input, weight;
  ops::Conv2dSpec spec;
};
void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

ops::Conv2dSpec spec_of(int stride, int pad, int groups = 1) {
  ops::Conv2dSpec s;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.groups = groups;
  return s;
}

// Calls visit(x index, w index, y index) for every multiply-add of the convolution.
void for_each_term(const Shape& xs, const Shape& ws, const Shape& ys, const ops::Conv2dSpec& sp,
                   const std::function<void(size_t, size_t, size_t)>& visit) {
  const int64_t C = xs[1], H = xs[2], W = xs[3], K = ws[0], CG = ws[1], R = ws[2], S = ws[3];
  const int64_t KG = K / sp.groups;
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < ys[2]; ++oh)
        for (int64_t ow = 0; ow < ys[3]; ++ow)
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = oh * sp.stride_h - sp.pad_h + r;
                const int64_t iw = ow * sp.stride_w - sp.pad_w + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (k / KG) * CG + c;
                visit(static_cast<size_t>(((n * C + ci) * H + ih) * W + iw),
                      static_cast<size_t>(((k * CG + c) * R + r) * S + s),
                      static_cast<size_t>(((n * K + k) * ys[2] + oh) * ys[3] + ow));
              }
}

class Bf16Conv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Bf16Conv, ForwardAndBothBackwardPassesAreTheBf16Results) {
  const ConvCase& c = GetParam();
  std::mt19937_64 gen(test::test_seed());
  const Shape ys = ops::conv2d_output_shape(c.input, c.weight, c.spec);
  const Tensor x = test::random_tensor(c.input, gen), w = test::random_tensor(c.weight, gen);
  const Tensor b = test::random_tensor(Shape{c.weight[0]}, gen), dy = test::random_tensor(ys, gen);
  const std::vector<double> xr = rounded(x), wr = rounded(w), dyr = rounded(dy);
  std::vector<double> y_ref(static_cast<size_t>(ys.numel())), dx_ref(xr.size()), dw_ref(wr.size());
  for_each_term(c.input, c.weight, ys, c.spec, [&](size_t xi, size_t wi, size_t yi) {
    y_ref[yi] += xr[xi] * wr[wi];
    dx_ref[xi] += dyr[yi] * wr[wi];
    dw_ref[wi] += dyr[yi] * xr[xi];
  });

  const Context ctx = bf16_context(), f32;
  Tensor y = Tensor::empty(ys), y_bias = Tensor::empty(ys), y_f32 = Tensor::empty(ys);
  Tensor dx = Tensor::empty(c.input), dw = Tensor::empty(c.weight);
  ops::conv2d_forward(ctx, x, w, nullptr, y, c.spec);
  ops::conv2d_forward(ctx, x, w, &b, y_bias, c.spec);
  ops::conv2d_forward(f32, x, w, nullptr, y_f32, c.spec);
  ops::conv2d_backward_data(ctx, dy, w, dx, c.spec);
  ops::conv2d_backward_weight(ctx, x, dy, dw, c.spec);

  EXPECT_TRUE(rounded_result_matches(y_ref, y, 1e-5));
  EXPECT_TRUE(rounded_result_matches(dx_ref, dx, 1e-5));
  EXPECT_TRUE(rounded_result_matches(dw_ref, dw, 1e-4));
  // The bias is added in f32 after the rounding.
  const std::vector<float> plain = y.to_vector(), biased = y_bias.to_vector(), bias = b.to_vector();
  const int64_t plane = ys[2] * ys[3];
  for (size_t i = 0; i < plain.size(); ++i)
    ASSERT_EQ(biased[i], plain[i] + bias[(i / plane) % ys[1]]) << "element " << i;
  EXPECT_GT(relative_l2(plain, y_f32.to_vector()), 1e-4) << "bf16 made no difference";
}

INSTANTIATE_TEST_SUITE_P(Shapes, Bf16Conv,
                         ::testing::Values(ConvCase{"lenet_conv1", Shape{4, 1, 12, 12},
                                                    Shape{6, 1, 5, 5}, spec_of(1, 2)},
                                           ConvCase{"strided_padded", Shape{2, 3, 15, 15},
                                                    Shape{8, 3, 3, 3}, spec_of(2, 1)},
                                           ConvCase{"grouped", Shape{2, 4, 9, 9}, Shape{6, 2, 3, 3},
                                                    spec_of(1, 1, 2)}),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(Bf16Linear, ProductsTakeBf16OperandsAndStayF32) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const int64_t n = 9, in = 70, out = 13;
  const Tensor x = test::random_tensor(Shape{n, in}, gen),
               w = test::random_tensor(Shape{out, in}, gen);
  const Tensor b = test::random_tensor(Shape{out}, gen),
               dy = test::random_tensor(Shape{n, out}, gen);
  const std::vector<double> xr = rounded(x), wr = rounded(w), dyr = rounded(dy);
  const std::vector<float> bias = b.to_vector();
  std::vector<double> y_ref(static_cast<size_t>(n * out)), relu_ref(y_ref.size());
  std::vector<double> dx_ref(xr.size()), dw_ref(wr.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        const auto xi = static_cast<size_t>(r * in + i), wi = static_cast<size_t>(o * in + i);
        const auto yi = static_cast<size_t>(r * out + o);
        y_ref[yi] += xr[xi] * wr[wi];
        dx_ref[xi] += dyr[yi] * wr[wi];
        dw_ref[wi] += dyr[yi] * xr[xi];
      }
  for (size_t i = 0; i < y_ref.size(); ++i) {
    y_ref[i] += bias[i % static_cast<size_t>(out)];
    relu_ref[i] = std::max(0.0, y_ref[i]);
  }

  const Context ctx = bf16_context(), f32;
  Tensor y = Tensor::empty(Shape{n, out}), y_relu = Tensor::empty(Shape{n, out});
  Tensor y_f32 = Tensor::empty(Shape{n, out});
  Tensor dx = Tensor::empty(Shape{n, in}), dw = Tensor::empty(Shape{out, in});
  ops::linear_forward(ctx, x, w, &b, y, false);
  ops::linear_forward(ctx, x, w, &b, y_relu, true);
  ops::linear_forward(f32, x, w, &b, y_f32, false);
  ops::linear_backward_data(ctx, dy, w, dx);
  ops::linear_backward_weight(ctx, x, dy, dw);
  EXPECT_TRUE(test::all_close(y_ref, y, 1e-6, 2e-5));
  EXPECT_TRUE(test::all_close(relu_ref, y_relu, 1e-6, 2e-5));
  EXPECT_TRUE(test::all_close(dx_ref, dx, 1e-6, 1e-5));
  EXPECT_TRUE(test::all_close(dw_ref, dw, 1e-6, 1e-5));
  EXPECT_GT(relative_l2(y.to_vector(), y_f32.to_vector()), 1e-4) << "bf16 made no difference";
}

TEST(Bf16Linear, TheInputsAreNotChanged) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const Tensor x = test::random_tensor(Shape{5, 11}, gen),
               w = test::random_tensor(Shape{3, 11}, gen);
  const std::vector<float> x_before = x.to_vector(), w_before = w.to_vector();
  Tensor y = Tensor::empty(Shape{5, 3});
  ops::linear_forward(bf16_context(), x, w, nullptr, y, false);
  EXPECT_EQ(x.to_vector(), x_before);  // the f32 master copies stay as they were
  EXPECT_EQ(w.to_vector(), w_before);
}

}  // namespace
}  // namespace kestrel
