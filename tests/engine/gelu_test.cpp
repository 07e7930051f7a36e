// gelu, approximate 'none' (x * Phi(x), the erf form) and 'tanh': forward against float64
// references of PyTorch's formulas, backward (from the input) against central differences and
// at extreme inputs, in place, 1 vs 2 threads, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops/activation.hpp"
#include "tests/engine/activation_test_support.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"

namespace kestrel {
namespace {

using ops::GeluApproximation;

// torch.nn.GELU's documented formulas.
double gelu_erf64(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh64(double x) {
  const double pi = 3.14159265358979323846;
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
}

test::Activation gelu(GeluApproximation a) {
  return test::Activation{
      [a](const Context& ctx, const Tensor& x, Tensor& y) { ops::gelu_forward(ctx, x, y, a); },
      [a](const Context& ctx, const Tensor& x, const Tensor& dy, Tensor& dx) {
        ops::gelu_backward(ctx, x, dy, dx, a);
      },
      false};
}

struct GeluCase {
  GeluApproximation approximate;
  Shape shape;
};

std::string case_name(const ::testing::TestParamInfo<GeluCase>& info) {
  std::string name(ops::gelu_approximation_name(info.param.approximate));
  for (int64_t i = 0; i < info.param.shape.ndim(); ++i) {
    name += '_';  // not "_" + to_string(): gcc 12 at -O3 warns a false -Wrestrict there
    name += std::to_string(info.param.shape[i]);
  }
  return name;
}

class GeluTest : public ::testing::TestWithParam<GeluCase> {
 protected:
  const Shape& shape() const { return GetParam().shape; }
  GeluApproximation approximate() const { return GetParam().approximate; }
  double (*reference() const)(double) {
    return approximate() == GeluApproximation::Tanh ? gelu_tanh64 : gelu_erf64;
  }
};

TEST_P(GeluTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Tensor x =
      test::input_with(shape(), gen, -9.0f, 9.0f, {0.0f, -0.0f, 1e30f, -1e30f, -5.0f, 5.0f});
  Tensor y = Tensor::empty(shape());
  ops::gelu_forward(ctx, x, y, approximate());
  // A few ulp where |y| is not tiny; the negative tail (y ~ -1e-18 at x = -9) absolutely.
  EXPECT_TRUE(test::all_close(test::map64(test::to_double(x), reference()), y, 2e-6, 1e-12));
}

TEST_P(GeluTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Tensor x = test::random_tensor(shape(), gen, -7.0f, 7.0f);
  const Tensor dy = test::random_tensor(shape(), gen);
  const Tensor dx = test::activation_grad(ctx, gelu(approximate()), x, dy);
  const auto ref = reference();
  const auto f = [ref](const std::vector<double>& v) { return test::map64(v, ref); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-5, 1e-7));
}

TEST_P(GeluTest, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::expect_in_place_same_bits(gelu(approximate()),
                                  test::random_tensor(shape(), gen, -6.0f, 6.0f),
                                  test::random_tensor(shape(), gen));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GeluTest,
                         ::testing::Values(GeluCase{GeluApproximation::None, Shape{1}},
                                           GeluCase{GeluApproximation::None, Shape{7, 3}},
                                           GeluCase{GeluApproximation::None, Shape{2, 3, 5, 5}},
                                           GeluCase{GeluApproximation::Tanh, Shape{1}},
                                           GeluCase{GeluApproximation::Tanh, Shape{7, 3}},
                                           GeluCase{GeluApproximation::Tanh, Shape{2, 3, 5, 5}}),
                         case_name);

// gelu(0) = 0 with slope 1/2 in both forms; far out the value is x or 0 and the slope 1 or 0,
// with no NaN even where x^2 overflows (the tanh form's derivative has x^2 in it).
TEST(Gelu, ExactAndExtremeValues) {
  Context ctx;
  for (const GeluApproximation a : {GeluApproximation::None, GeluApproximation::Tanh}) {
    SCOPED_TRACE(std::string(ops::gelu_approximation_name(a)));
    const std::vector<float> xs{0.0f, 1e30f, -1e30f, 100.0f, -100.0f};
    const Shape s{static_cast<int64_t>(xs.size())};
    const Tensor x = Tensor::from_vector(s, xs);
    Tensor y = Tensor::empty(s);
    ops::gelu_forward(ctx, x, y, a);
    const Tensor dx =
        test::activation_grad(ctx, gelu(a), x, Tensor::from_vector(s, std::vector<float>(5, 1.0f)));
    const auto v = y.to_vector(), g = dx.to_vector();
    EXPECT_EQ(v[0], 0.0f);
    EXPECT_EQ(v[1], 1e30f);
    EXPECT_EQ(v[2], 0.0f);
    EXPECT_EQ(v[3], 100.0f);
    EXPECT_EQ(v[4], 0.0f);
    EXPECT_EQ(g, (std::vector<float>{0.5f, 1.0f, 0.0f, 1.0f, 0.0f}));
  }
}

// The two forms differ by at most about 5e-4 (PyTorch's documentation: "approximation").
TEST(Gelu, TanhFormIsCloseToTheErfForm) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 4);
  const Tensor x = test::random_tensor(Shape{1000}, gen, -6.0f, 6.0f);
  Tensor a = Tensor::empty(x.shape()), b = Tensor::empty(x.shape());
  ops::gelu_forward(ctx, x, a, GeluApproximation::None);
  ops::gelu_forward(ctx, x, b, GeluApproximation::Tanh);
  const auto va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) EXPECT_NEAR(va[i], vb[i], 5e-4) << i;
}

TEST(Gelu, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const Shape s{4, 6, 41, 39};
  for (const GeluApproximation a : {GeluApproximation::None, GeluApproximation::Tanh})
    test::expect_same_bits_with_1_and_2_threads(gelu(a), test::random_tensor(s, gen, -6.0f, 6.0f),
                                                test::random_tensor(s, gen));
}

TEST(Gelu, WrongShapesNameTheOp) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3});
  Tensor y = Tensor::zeros(Shape{3, 2}), dx = Tensor::zeros(Shape{2, 3});
  test::expect_error([&] { ops::gelu_forward(ctx, x, y, GeluApproximation::Tanh); },
                     "gelu: output has shape [3, 2], expected [2, 3]");
  const Tensor dy = Tensor::zeros(Shape{3});
  test::expect_error([&] { ops::gelu_backward(ctx, x, dy, dx, GeluApproximation::None); },
                     "gelu_backward: grad_output has shape [3], expected [2, 3]");
}

}  // namespace
}  // namespace kestrel
