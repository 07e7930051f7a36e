// zero_pad_shortcut (ResNet option A: x[:, :, ::stride, ::stride] between zero channels):
// forward against a float64 reference written as the PyTorch expression it replaces, backward
// against central differences, odd sizes, 1 vs 2 threads, errors; the ZeroPadShortcut layer's
// planes // 4 split against F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4)).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/nn/zero_pad_shortcut.hpp"
#include "engine/ops/zero_pad_shortcut.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using ops::ZeroPadShortcutSpec;

// F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, before, after)) in two steps, as PyTorch
// evaluates it: the strided slice, then zero channels before and after.
std::vector<double> shortcut_reference(const std::vector<double>& x, const Shape& in, int stride,
                                       int64_t before, int64_t after) {
  const int64_t N = in[0], C = in[1], H = in[2], W = in[3];
  std::vector<double> sliced;
  int64_t oh = 0, ow = 0;
  for (int64_t h = 0; h < H; h += stride) ++oh;
  for (int64_t w = 0; w < W; w += stride) ++ow;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; h += stride)
        for (int64_t w = 0; w < W; w += stride) sliced.push_back(x[((n * C + c) * H + h) * W + w]);
  std::vector<double> y;
  const int64_t plane = oh * ow;
  for (int64_t n = 0; n < N; ++n) {
    y.insert(y.end(), static_cast<size_t>(before * plane), 0.0);
    y.insert(y.end(), sliced.begin() + n * C * plane, sliced.begin() + (n + 1) * C * plane);
    y.insert(y.end(), static_cast<size_t>(after * plane), 0.0);
  }
  return y;
}

struct ShortcutCase {
  std::string name;
  Shape input;
  ZeroPadShortcutSpec spec;
};

void PrintTo(const ShortcutCase& c, std::ostream* os) { *os << c.name << " " << c.input.str(); }

class ZeroPadShortcutTest : public ::testing::TestWithParam<ShortcutCase> {
 protected:
  Context ctx;
  const Shape& in() const { return GetParam().input; }
  const ZeroPadShortcutSpec& sp() const { return GetParam().spec; }
  Shape out() const { return ops::zero_pad_shortcut_output_shape(in(), sp()); }
  std::vector<double> reference(const std::vector<double>& x) const {
    return shortcut_reference(x, in(), sp().stride, sp().pad,
                              sp().out_channels - in()[1] - sp().pad);
  }
};

TEST_P(ZeroPadShortcutTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  const Tensor x = test::random_tensor(in(), gen);
  Tensor y = test::random_tensor(out(), gen);  // garbage: the padding must be written as zeros
  ops::zero_pad_shortcut_forward(ctx, x, y, sp());
  EXPECT_TRUE(test::all_close(reference(test::to_double(x)), y, 0.0, 0.0));
}

TEST_P(ZeroPadShortcutTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const Tensor x = test::random_tensor(in(), gen);
  const Tensor dy = test::random_tensor(out(), gen);
  Tensor dx = test::random_tensor(in(), gen);  // garbage: overwritten
  ops::zero_pad_shortcut_backward(ctx, dy, dx, sp());
  const auto f = [&](const std::vector<double>& v) { return reference(v); };
  EXPECT_TRUE(test::all_close(test::numeric_gradient(f, test::to_double(x), test::to_double(dy)),
                              dx, 1e-6, 1e-9));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ZeroPadShortcutTest,
    ::testing::Values(
        // ResNet-20's two downsampling shortcuts (16 -> 32 at 32x32, 32 -> 64 at 16x16), scaled.
        ShortcutCase{"resnet20_stage2", Shape{2, 4, 8, 8}, ZeroPadShortcutSpec{2, 8, 2}},
        ShortcutCase{"batch1_odd_7x5", Shape{1, 2, 7, 5}, ZeroPadShortcutSpec{2, 4, 1}},
        ShortcutCase{"stride3_uneven_pad", Shape{2, 3, 7, 8}, ZeroPadShortcutSpec{3, 7, 3}},
        ShortcutCase{"stride1_pad_only", Shape{1, 2, 3, 3}, ZeroPadShortcutSpec{1, 6, 2}},
        ShortcutCase{"no_padding", Shape{2, 3, 4, 4}, ZeroPadShortcutSpec{2, 3, 0}},
        ShortcutCase{"one_by_one", Shape{3, 2, 1, 1}, ZeroPadShortcutSpec{2, 4, 1}}),
    [](const ::testing::TestParamInfo<ShortcutCase>& p) { return p.param.name; });

TEST(ZeroPadShortcut, OutputShapeIsTheStridedSliceLength) {
  // x[:, :, ::2, ::2] of 32x32 is 16x16, of 7x5 is 4x3 (ceil).
  EXPECT_EQ(ops::zero_pad_shortcut_output_shape(Shape{128, 16, 32, 32}, {2, 32, 8}),
            (Shape{128, 32, 16, 16}));
  EXPECT_EQ(ops::zero_pad_shortcut_output_shape(Shape{1, 2, 7, 5}, {2, 4, 1}), (Shape{1, 4, 4, 3}));
  EXPECT_EQ(ops::zero_pad_shortcut_output_shape(Shape{1, 2, 7, 5}, {3, 4, 1}), (Shape{1, 4, 3, 2}));
}

TEST(ZeroPadShortcut, SameBitsWithOneOrTwoThreads) {
  std::mt19937_64 gen(test::test_seed() + 2);
  Context ctx;
  const ZeroPadShortcutSpec spec{2, 32, 8};
  const Shape in{8, 16, 32, 32};
  const Shape out = ops::zero_pad_shortcut_output_shape(in, spec);
  const Tensor x = test::random_tensor(in, gen), dy = test::random_tensor(out, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(out), dx = Tensor::empty(in);
    ops::zero_pad_shortcut_forward(ctx, x, y, spec);
    ops::zero_pad_shortcut_backward(ctx, dy, dx, spec);
    cpu::set_num_threads(0);
    return std::make_pair(y, dx);
  };
  const auto one = run(1), two = run(2);
  EXPECT_TRUE(test::same_bits(one.first, two.first));
  EXPECT_TRUE(test::same_bits(one.second, two.second));
}

TEST(ZeroPadShortcutErrors, BadSpecsAndShapes) {
  Context ctx;
  test::expect_error(
      [] {
        ops::zero_pad_shortcut_output_shape(Shape{1, 4, 8, 8}, {0, 8, 2});
      },
      "zero_pad_shortcut: stride must be positive, got 0");
  test::expect_error(
      [] {
        ops::zero_pad_shortcut_output_shape(Shape{1, 4, 8, 8}, {2, 5, 2});
      },
      "zero_pad_shortcut: 5 output channels cannot hold 2 zero channels and the "
      "input's 4 (input [1, 4, 8, 8])");
  test::expect_error(
      [] {
        ops::zero_pad_shortcut_output_shape(Shape{4, 8, 8}, {2, 8, 2});
      },
      "zero_pad_shortcut: input must have 4 dimensions (N, C, H, W), got [4, 8, 8]");
  const Tensor x = Tensor::zeros(Shape{1, 4, 8, 8});
  Tensor y = Tensor::zeros(Shape{1, 8, 8, 8});
  test::expect_error(
      [&] {
        ops::zero_pad_shortcut_forward(ctx, x, y, {2, 8, 2});
      },
      "zero_pad_shortcut: output has shape [1, 8, 8, 8], expected [1, 8, 4, 4]");
  Tensor dx = Tensor::zeros(Shape{1, 4, 8, 8});
  const Tensor dy = Tensor::zeros(Shape{1, 8, 4, 5});
  test::expect_error(
      [&] {
        ops::zero_pad_shortcut_backward(ctx, dy, dx, {2, 8, 2});
      },
      "zero_pad_shortcut_backward: grad_output has shape [1, 8, 4, 5], expected "
      "[1, 8, 4, 4]");
}

// The layer pads planes // 4 on each side, as F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4,
// planes // 4)) in the CIFAR ResNets' LambdaLayer: 16 -> 32 channels puts 8 zero channels on
// each side; an input the split does not fit is refused.
TEST(ZeroPadShortcutLayer, PlanesOverFourOnEachSide) {
  std::mt19937_64 gen(test::test_seed() + 3);
  Context ctx;
  nn::ZeroPadShortcut layer("layer2.0.shortcut", 2, 32);
  EXPECT_EQ(layer.type(), "ZeroPadShortcut");
  EXPECT_FALSE(layer.backward_needs_input());
  EXPECT_FALSE(layer.backward_needs_output());
  const Shape in{2, 16, 6, 6};
  const Shape out = layer.setup(in);
  EXPECT_EQ(out, (Shape{2, 32, 3, 3}));
  EXPECT_EQ(layer.spec().pad, 8);
  const Tensor x = test::random_tensor(in, gen);
  Tensor y = Tensor::empty(out);
  layer.forward(ctx, x, y, nn::StepInfo{});
  EXPECT_TRUE(test::all_close(shortcut_reference(test::to_double(x), in, 2, 8, 8), y, 0.0, 0.0));

  nn::ZeroPadShortcut odd("s", 2, 10);  // 10 // 4 = 2: 2 + C + 2 = 10 needs C = 6
  EXPECT_EQ(odd.setup(Shape{1, 6, 4, 4}), (Shape{1, 10, 2, 2}));
  test::expect_error(
      [&] {
        odd.setup(Shape{1, 5, 4, 4});
      },
      "ZeroPadShortcut 's': 5 input channels padded with 10 // 4 = 2 zero channels "
      "on each side give 9, not 10 (option A expects 6 input channels)");
  test::expect_error([] { nn::ZeroPadShortcut("z", 0, 8); },
                     "ZeroPadShortcut 'z': stride 0 and out_channels 8 must be positive");
}

}  // namespace
}  // namespace kestrel
