// lrn: forward and scale against a float64 reference that follows
// torch.nn.functional.local_response_norm step by step (square, zero-pad the channel axis by
// size/2 in front and (size-1)/2 behind, average `size` channels, scale, power), backward
// against central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/ops/lrn.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct LrnReference {
  std::vector<double> y, scale;
};

LrnReference lrn_reference(const std::vector<double>& x, const Shape& shape,
                           const ops::LrnSpec& s) {
  const int64_t N = shape[0], C = shape[1], inner = shape.numel() / (N * C);
  const int64_t front = s.size / 2, back = (s.size - 1) / 2;
  LrnReference r{std::vector<double>(x.size()), std::vector<double>(x.size())};
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t p = 0; p < inner; ++p) {
      // Squares along the channel axis with the zero padding of the PyTorch implementation.
      std::vector<double> padded(static_cast<size_t>(front + C + back), 0.0);
      for (int64_t c = 0; c < C; ++c) {
        const double v = x[static_cast<size_t>((n * C + c) * inner + p)];
        padded[static_cast<size_t>(front + c)] = v * v;
      }
      for (int64_t c = 0; c < C; ++c) {
        double window = 0.0;
        for (int64_t j = 0; j < s.size; ++j) window += padded[static_cast<size_t>(c + j)];
        const double div = window / s.size * s.alpha + s.k;
        const size_t e = static_cast<size_t>((n * C + c) * inner + p);
        r.scale[e] = div;
        r.y[e] = x[e] / std::pow(div, static_cast<double>(s.beta));
      }
    }
  }
  return r;
}

struct LrnCase {
  std::string name;
  Shape input;
  ops::LrnSpec spec;
};

void PrintTo(const LrnCase& c, std::ostream* os) {
  *os << c.name << " " << c.input.str() << " size " << c.spec.size;
}

class LrnTest : public ::testing::TestWithParam<LrnCase> {
 protected:
  Context ctx;
  const Shape& shape() const { return GetParam().input; }
  const ops::LrnSpec& spec() const { return GetParam().spec; }
};

TEST_P(LrnTest, ForwardAndScaleMatchReference) {
  std::mt19937_64 gen(test::test_seed() + 20);
  const Tensor x = test::random_tensor(shape(), gen, -2.0f, 2.0f);
  Tensor y = Tensor::empty(shape()), scale = Tensor::empty(shape());
  ops::lrn_forward(ctx, x, y, scale, spec());
  const LrnReference expected = lrn_reference(test::to_double(x), shape(), spec());
  EXPECT_TRUE(test::all_close(expected.y, y, 1e-5, 1e-6));
  EXPECT_TRUE(test::all_close(expected.scale, scale, 1e-6, 1e-6));
}

TEST_P(LrnTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 21);
  const Tensor x = test::random_tensor(shape(), gen, -2.0f, 2.0f);
  const Tensor dy = test::random_tensor(shape(), gen);
  Tensor y = Tensor::empty(shape()), scale = Tensor::empty(shape());
  Tensor dx = test::random_tensor(shape(), gen);  // garbage: the backward must overwrite it
  ops::lrn_forward(ctx, x, y, scale, spec());
  ops::lrn_backward(ctx, x, y, scale, dy, dx, spec());
  const auto reference = [&](const std::vector<double>& v) {
    return lrn_reference(v, shape(), spec()).y;
  };
  const auto expected =
      test::numeric_gradient(reference, test::to_double(x), test::to_double(dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-5, 1e-5));
}

ops::LrnSpec lrn(int size, float alpha, float beta, float k) {
  return ops::LrnSpec{size, alpha, beta, k};
}

// Large alpha in most cases so that a wrong channel window changes the result visibly.
INSTANTIATE_TEST_SUITE_P(
    Cases, LrnTest,
    ::testing::Values(LrnCase{"size5", Shape{2, 7, 3, 4}, lrn(5, 1.0f, 0.75f, 1.0f)},
                      LrnCase{"alexnet_defaults", Shape{2, 8, 3, 3}, lrn(5, 1e-4f, 0.75f, 2.0f)},
                      LrnCase{"even_size4", Shape{1, 7, 5, 3}, lrn(4, 0.5f, 0.75f, 2.0f)},
                      LrnCase{"even_size2", Shape{2, 5, 3, 2}, lrn(2, 1.0f, 0.75f, 1.0f)},
                      LrnCase{"channels_below_size5", Shape{2, 3, 4, 4}, lrn(5, 1.0f, 0.5f, 1.0f)},
                      LrnCase{"channels_below_size4", Shape{1, 2, 3, 3}, lrn(4, 2.0f, 0.75f, 1.0f)},
                      LrnCase{"size_much_larger", Shape{1, 4, 2, 3}, lrn(9, 1.5f, 0.6f, 1.0f)},
                      LrnCase{"size1", Shape{1, 5, 2, 2}, lrn(1, 1.0f, 0.75f, 1.0f)},
                      LrnCase{"three_dims", Shape{2, 6, 5}, lrn(3, 0.8f, 0.9f, 1.5f)},
                      LrnCase{"batch1_odd", Shape{1, 11, 7, 9}, lrn(5, 0.3f, 0.75f, 2.0f)}),
    [](const ::testing::TestParamInfo<LrnCase>& param) { return param.param.name; });

TEST(Lrn, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 22);
  const Shape shape{4, 16, 13, 11};
  const ops::LrnSpec s = lrn(5, 0.5f, 0.75f, 2.0f);
  const Tensor x = test::random_tensor(shape, gen, -2.0f, 2.0f);
  const Tensor dy = test::random_tensor(shape, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(shape), scale = Tensor::empty(shape), dx = Tensor::empty(shape);
    ops::lrn_forward(ctx, x, y, scale, s);
    ops::lrn_backward(ctx, x, y, scale, dy, dx, s);
    cpu::set_num_threads(0);
    std::vector<float> all = y.to_vector();
    for (const auto& t : {scale, dx}) {
      const auto v = t.to_vector();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  const auto one = run(1), two = run(2);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected kestrel::Error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(LrnErrors, SizeBelowOne) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{1, 3, 2, 2});
  Tensor y = Tensor::zeros(Shape{1, 3, 2, 2}), scale = Tensor::zeros(Shape{1, 3, 2, 2});
  expect_error([&] { ops::lrn_forward(ctx, x, y, scale, lrn(0, 1e-4f, 0.75f, 2.0f)); },
               "lrn: size must be at least 1, got 0");
  Tensor dx = Tensor::zeros(Shape{1, 3, 2, 2});
  expect_error([&] { ops::lrn_backward(ctx, x, y, scale, y, dx, lrn(-2, 1e-4f, 0.75f, 2.0f)); },
               "lrn_backward: size must be at least 1, got -2");
}

TEST(LrnErrors, BadShapes) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 4, 4});
  Tensor y = Tensor::zeros(Shape{2, 3, 4, 4}), scale = Tensor::zeros(Shape{2, 3, 4, 5});
  expect_error([&] { ops::lrn_forward(ctx, x, y, scale, ops::LrnSpec{}); },
               "lrn: scale has shape [2, 3, 4, 5], expected [2, 3, 4, 4]");
  const Tensor flat = Tensor::zeros(Shape{2, 3});
  Tensor flat_y = Tensor::zeros(Shape{2, 3}), flat_scale = Tensor::zeros(Shape{2, 3});
  expect_error([&] { ops::lrn_forward(ctx, flat, flat_y, flat_scale, ops::LrnSpec{}); },
               "lrn: input must have at least 3 dimensions (N, C, ...), got [2, 3]");
  Tensor good_scale = Tensor::zeros(Shape{2, 3, 4, 4});
  const Tensor dy = Tensor::zeros(Shape{2, 4, 4, 4});
  Tensor dx = Tensor::zeros(Shape{2, 3, 4, 4});
  expect_error([&] { ops::lrn_backward(ctx, x, y, good_scale, dy, dx, ops::LrnSpec{}); },
               "lrn_backward: grad_output has shape [2, 4, 4, 4], expected [2, 3, 4, 4]");
  Tensor int_scale = Tensor::zeros(Shape{2, 3, 4, 4}, DType::I32);
  expect_error([&] { ops::lrn_forward(ctx, x, y, int_scale, ops::LrnSpec{}); },
               "lrn: scale must be f32, got i32[2, 3, 4, 4]");
}

}  // namespace
}  // namespace kestrel
