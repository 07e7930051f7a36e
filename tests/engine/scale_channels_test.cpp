// scale_channels (y = x * s, s [N, C, 1, 1] broadcast over H, W): forward against a float64
// reference, both gradients against central differences, ds bit for bit as a row-major f32 sum
// per plane, in place, 1 vs 2 threads, null gradients, errors; the ScaleChannels layer's shape
// rule.
#include <gtest/gtest.h>

#include <vector>

#include "engine/nn/scale_channels.hpp"
#include "engine/ops/scale_channels.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

Shape scale_shape(const Shape& x) { return Shape{x[0], x[1], 1, 1}; }

// y[n, c, h, w] = x[n, c, h, w] * s[n, c].
std::vector<double> scale_channels_reference(const std::vector<double>& x,
                                             const std::vector<double>& s, const Shape& shape) {
  const int64_t plane = shape[2] * shape[3];
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s[i / static_cast<size_t>(plane)];
  return y;
}

class ScaleChannelsTest : public ::testing::TestWithParam<Shape> {};

TEST_P(ScaleChannelsTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const Shape xs = GetParam();
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  Tensor y = Tensor::empty(xs);
  ops::scale_channels_forward(ctx, x, s, y);
  // One f32 product per element: the exact product rounded once.
  EXPECT_TRUE(test::all_close(scale_channels_reference(test::to_double(x), test::to_double(s), xs),
                              y, 6e-8, 0.0));
}

TEST_P(ScaleChannelsTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  Context ctx;
  const Shape xs = GetParam();
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  const Tensor dy = test::random_tensor(xs, gen);
  Tensor dx = test::random_tensor(xs, gen), ds = test::random_tensor(scale_shape(xs), gen);
  ops::scale_channels_backward(ctx, x, s, dy, &dx, &ds);
  const auto xd = test::to_double(x), sd = test::to_double(s), r = test::to_double(dy);
  const auto wrt_x = [&](const std::vector<double>& v) {
    return scale_channels_reference(v, sd, xs);
  };
  const auto wrt_s = [&](const std::vector<double>& v) {
    return scale_channels_reference(xd, v, xs);
  };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(wrt_x, xd, r), dx, 1e-5, 1e-7));
  EXPECT_TRUE(test::all_close(test::numeric_gradient(wrt_s, sd, r), ds, 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ScaleChannelsTest,
                         ::testing::Values(Shape{1, 1, 1, 1}, Shape{1, 3, 5, 7}, Shape{2, 4, 7, 7},
                                           Shape{3, 5, 1, 1}, Shape{2, 3, 4, 9}));

// ds is the f32 sum of dy * x over each plane from 0, in row-major order, and nothing else.
TEST(ScaleChannels, GradScaleIsTheRowMajorSumPerPlane) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const Shape xs{2, 3, 7, 7};
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  const Tensor dy = test::random_tensor(xs, gen);
  Tensor ds = Tensor::empty(scale_shape(xs));
  ops::scale_channels_backward(ctx, x, s, dy, nullptr, &ds);
  const float* a = dy.data<float>();
  const float* b = x.data<float>();
  std::vector<float> expected;
  for (int64_t p = 0; p < 6; ++p) {
    float sum = 0.0f;
    for (int64_t k = 0; k < 49; ++k) {
      const float product = a[p * 49 + k] * b[p * 49 + k];
      sum += product;
    }
    expected.push_back(sum);
  }
  EXPECT_TRUE(test::same_bits(expected, ds.to_vector()));
}

// In place (y is x), and dx written over dy (ds read dy first).
TEST(ScaleChannels, InPlaceGivesTheSameBits) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  const Shape xs{2, 4, 5, 6};
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  const Tensor dy = test::random_tensor(xs, gen);
  Tensor y = Tensor::empty(xs), dx = Tensor::empty(xs), ds = Tensor::empty(scale_shape(xs));
  ops::scale_channels_forward(ctx, x, s, y);
  ops::scale_channels_backward(ctx, x, s, dy, &dx, &ds);
  Tensor x2 = x.to(Device::cpu()), dy2 = dy.to(Device::cpu()), ds2 = Tensor::empty(ds.shape());
  ops::scale_channels_backward(ctx, x2, s, dy2, &dy2, &ds2);
  ops::scale_channels_forward(ctx, x2, s, x2);
  EXPECT_TRUE(test::same_bits(y, x2));
  EXPECT_TRUE(test::same_bits(dx, dy2));
  EXPECT_TRUE(test::same_bits(ds, ds2));
}

TEST(ScaleChannels, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const Shape xs{8, 64, 9, 9};  // above kMinParallelWork in every launch
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  const Tensor dy = test::random_tensor(xs, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(xs), dx = Tensor::empty(xs), ds = Tensor::empty(scale_shape(xs));
    ops::scale_channels_forward(ctx, x, s, y);
    ops::scale_channels_backward(ctx, x, s, dy, &dx, &ds);
    cpu::set_num_threads(0);
    return std::vector<Tensor>{y, dx, ds};
  };
  const auto one = run(1), two = run(2);
  for (size_t k = 0; k < one.size(); ++k) EXPECT_TRUE(test::same_bits(one[k], two[k])) << k;
}

TEST(ScaleChannels, NullGradientsAreSkipped) {
  std::mt19937_64 gen(test::test_seed() + 5);
  Context ctx;
  const Shape xs{1, 2, 3, 3};
  const Tensor x = test::random_tensor(xs, gen), s = test::random_tensor(scale_shape(xs), gen);
  const Tensor dy = test::random_tensor(xs, gen);
  Tensor dx = Tensor::empty(xs), ds = Tensor::empty(scale_shape(xs));
  Tensor dx_alone = Tensor::empty(xs), ds_alone = Tensor::empty(scale_shape(xs));
  ops::scale_channels_backward(ctx, x, s, dy, &dx, &ds);
  ops::scale_channels_backward(ctx, x, s, dy, &dx_alone, nullptr);
  ops::scale_channels_backward(ctx, x, s, dy, nullptr, &ds_alone);
  ops::scale_channels_backward(ctx, x, s, dy, nullptr, nullptr);
  EXPECT_TRUE(test::same_bits(dx, dx_alone));
  EXPECT_TRUE(test::same_bits(ds, ds_alone));
}

TEST(ScaleChannelsErrors, ShapesAndOverlaps) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 4, 4});
  const Tensor bad_s = Tensor::zeros(Shape{2, 3, 4, 1});
  Tensor y = Tensor::zeros(Shape{2, 3, 4, 4});
  test::expect_error([&] { ops::scale_channels_forward(ctx, x, bad_s, y); },
                     "scale_channels: scale must be [N, C, 1, 1] = [2, 3, 1, 1] for input "
                     "[2, 3, 4, 4], got [2, 3, 4, 1]");
  const Tensor s = Tensor::zeros(Shape{2, 3, 1, 1});
  Tensor small = Tensor::zeros(Shape{2, 3, 4, 3});
  test::expect_error([&] { ops::scale_channels_forward(ctx, x, s, small); },
                     "scale_channels: output has shape [2, 3, 4, 3], expected [2, 3, 4, 4]");
  test::expect_error(
      [] {
        ops::scale_channels_output_shape(Shape{2, 3}, Shape{2, 3});
      },
      "scale_channels: input must have 4 dimensions (N, C, H, W), got [2, 3]");
  Tensor ds = Tensor::zeros(Shape{2, 3, 1, 2});
  test::expect_error([&] { ops::scale_channels_backward(ctx, x, s, x, nullptr, &ds); },
                     "scale_channels_backward: grad_scale has shape [2, 3, 1, 2], expected "
                     "[2, 3, 1, 1]");
  Tensor dx = x;  // the input itself
  test::expect_error([&] { ops::scale_channels_backward(ctx, x, s, y, &dx, nullptr); },
                     "scale_channels_backward: grad_input");
}

TEST(ScaleChannelsLayer, TakesXThenTheScale) {
  nn::ScaleChannels layer("se.scale");
  EXPECT_EQ(layer.type(), "ScaleChannels");
  EXPECT_EQ(layer.arity(), 2);
  EXPECT_TRUE(layer.backward_needs_input());
  EXPECT_FALSE(layer.backward_needs_output());
  const std::vector<Shape> in{Shape{4, 16, 7, 7}, Shape{4, 16, 1, 1}};
  EXPECT_EQ(layer.setup_inputs(in), (Shape{4, 16, 7, 7}));
  const std::vector<Shape> swapped{Shape{4, 16, 1, 1}, Shape{4, 16, 7, 7}};
  test::expect_error([&] { layer.setup_inputs(swapped); },
                     "scale_channels: scale must be [N, C, 1, 1] = [4, 16, 1, 1] for input "
                     "[4, 16, 1, 1], got [4, 16, 7, 7]");
}

}  // namespace
}  // namespace kestrel
