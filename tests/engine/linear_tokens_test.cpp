// linear and nn::Linear on inputs of rank 3 and 4 ([N, T, D] tokens, as a ViT's MLP): forward
// against a float64 reference that loops over every leading index, each backward against
// central differences of it, the layer's output shape, in_features inferred from the last
// dimension and multiply-adds counted per row, the 2-D case unchanged, errors naming the shapes.
#include <gtest/gtest.h>

#include <ostream>
#include <vector>

#include "engine/nn/linear.hpp"
#include "engine/ops/linear.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::to_double;

// y[n, t, o] = b[o] + sum_i x[n, t, i] w[o, i] for x [N, T, in] (T = every middle dimension).
std::vector<double> tokens_linear_ref(const std::vector<double>& x, const std::vector<double>& w,
                                      const std::vector<double>& b, int64_t n, int64_t t,
                                      int64_t in, int64_t out) {
  std::vector<double> y(static_cast<size_t>(n * t * out));
  for (int64_t s = 0; s < n; ++s)
    for (int64_t k = 0; k < t; ++k)
      for (int64_t o = 0; o < out; ++o) {
        double acc = b[static_cast<size_t>(o)];
        for (int64_t i = 0; i < in; ++i)
          acc += x[static_cast<size_t>((s * t + k) * in + i)] * w[static_cast<size_t>(o * in + i)];
        y[static_cast<size_t>((s * t + k) * out + o)] = acc;
      }
  return y;
}

struct TokenCase {
  Shape input;  // [N, ..., in]
  int64_t out;
};
void PrintTo(const TokenCase& c, std::ostream* os) { *os << c.input.str() << " out " << c.out; }

class LinearTokens : public ::testing::TestWithParam<TokenCase> {};

TEST_P(LinearTokens, ForwardAndBackwardMatchTheReference) {
  std::mt19937_64 gen(test::test_seed() + 301);
  Context ctx;
  const Shape in_shape = GetParam().input;
  const int64_t out = GetParam().out, in = in_shape.dim(-1), n = in_shape[0];
  const int64_t t = in_shape.numel() / (n * in);
  Shape out_shape = in_shape;
  out_shape[out_shape.ndim() - 1] = out;
  EXPECT_EQ(ops::linear_output_shape(in_shape, Shape{out, in}), out_shape);

  const Tensor x = test::random_tensor(in_shape, gen), w = test::random_tensor(Shape{out, in}, gen),
               b = test::random_tensor(Shape{out}, gen), dy = test::random_tensor(out_shape, gen);
  Tensor y = Tensor::empty(out_shape), dx = Tensor::empty(in_shape), dw = Tensor::empty(w.shape()),
         db = Tensor::empty(b.shape());
  y.fill(NAN);
  dx.fill(NAN);
  ops::linear_forward(ctx, x, w, &b, y);
  ops::linear_backward_data(ctx, dy, w, dx);
  ops::linear_backward_weight(ctx, x, dy, dw);
  ops::linear_backward_bias(ctx, dy, db);

  const auto xd = to_double(x), wd = to_double(w), bd = to_double(b), r = to_double(dy);
  EXPECT_TRUE(test::all_close(tokens_linear_ref(xd, wd, bd, n, t, in, out), y, 1e-5, 1e-5));
  const auto of_x = [&](const std::vector<double>& v) {
    return tokens_linear_ref(v, wd, bd, n, t, in, out);
  };
  const auto of_w = [&](const std::vector<double>& v) {
    return tokens_linear_ref(xd, v, bd, n, t, in, out);
  };
  const auto of_b = [&](const std::vector<double>& v) {
    return tokens_linear_ref(xd, wd, v, n, t, in, out);
  };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_x, xd, r), dx, 1e-5, 1e-6)) << "dx";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_w, wd, r), dw, 1e-5, 1e-6)) << "dw";
  EXPECT_TRUE(test::all_close(test::numeric_gradient(of_b, bd, r), db, 1e-5, 1e-6)) << "db";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearTokens,
                         ::testing::Values(TokenCase{Shape{2, 5, 7}, 3},
                                           TokenCase{Shape{1, 4, 6}, 9},
                                           TokenCase{Shape{3, 1, 4}, 2},
                                           TokenCase{Shape{2, 3, 2, 5}, 4}));

TEST(LinearTokensLayer, ShapesInferredFeaturesAndMultiplyAdds) {
  nn::Linear fc("encoder.layers.encoder_layer_0.mlp.0", 0, 12);  // in_features from the input
  EXPECT_EQ(fc.setup(Shape{4, 17, 8}), (Shape{4, 17, 12}));
  EXPECT_EQ(fc.params()[0].shape, (Shape{12, 8}));
  // One product per token: 4 * 17 rows of 8 x 12.
  EXPECT_EQ(fc.multiply_adds(Shape{4, 17, 8}), 4 * 17 * 8 * 12);
  // The 2-D case as before.
  nn::Linear fc2("fc", 8, 3);
  EXPECT_EQ(fc2.setup(Shape{5, 8}), (Shape{5, 3}));
  EXPECT_EQ(fc2.multiply_adds(Shape{5, 8}), 5 * 8 * 3);
}

TEST(LinearTokensErrors, NameTheShapes) {
  Context ctx;
  using test::expect_error;
  nn::Linear fc("head", 8, 3);
  expect_error([&] { fc.setup(Shape{8}); },
               "Linear: input must have at least 2 dimensions [N, ..., features], got [8]");
  expect_error(
      [&] {
        fc.setup(Shape{2, 4, 7});
      },
      "Linear: input has 7 features but the layer expects 8 (input [2, 4, 7])");
  const Tensor x = Tensor::zeros(Shape{2, 3, 4}), w = Tensor::zeros(Shape{5, 4});
  Tensor y_bad = Tensor::zeros(Shape{6, 5});
  expect_error([&] { ops::linear_forward(ctx, x, w, nullptr, y_bad); },
               "linear: output must have 3 dimensions, got [6, 5]");
  // Leading dimensions must agree, not only their product.
  const Tensor dy = Tensor::zeros(Shape{3, 2, 5});
  Tensor dw = Tensor::zeros(Shape{5, 4});
  expect_error([&] { ops::linear_backward_weight(ctx, x, dy, dw); },
               "linear_backward_weight: input and grad_output differ before their last dimension "
               "(input f32[2, 3, 4], grad_output f32[3, 2, 5])");
}

}  // namespace
}  // namespace kestrel
