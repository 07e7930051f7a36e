// max_pool2d and avg_pool2d: forwards (values, argmax, output shapes) against float64
// references written from PyTorch's documented formulas, backwards against central differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/nn/pooling.hpp"
#include "engine/ops/pool2d.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/poison.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using ops::Pool2dSpec;

// Number of windows along one axis, counted one window at a time. Window o starts at o*s - p in
// input coordinates. Floor mode keeps windows that fit inside the padded input. Ceil mode keeps
// every window that starts within (padded length - kernel + stride), i.e. rounds the window
// count up, but never one that starts in the right padding or beyond.
int64_t count_windows(int64_t in, int k, int s, int p, bool ceil_mode) {
  int64_t count = 0;
  for (int64_t o = 0;; ++o) {
    const int64_t start = o * s;  // in padded coordinates
    const bool keep = ceil_mode ? (start < in + 2 * p - k + s && start < in + p)
                                : (start + k <= in + 2 * p);
    if (!keep) break;
    ++count;
  }
  return count;
}

Shape reference_output_shape(const Shape& in, const Pool2dSpec& s) {
  return Shape{in[0], in[1], count_windows(in[2], s.kernel_h, s.stride_h, s.pad_h, s.ceil_mode),
               count_windows(in[3], s.kernel_w, s.stride_w, s.pad_w, s.ceil_mode)};
}

// Max over the real input elements of each window; the first maximum in row-major window order
// wins and its flat index h*W + w goes to *argmax.
std::vector<double> max_pool_reference(const std::vector<double>& x, const Shape& in,
                                       const Pool2dSpec& s, std::vector<int32_t>* argmax) {
  const Shape out = reference_output_shape(in, s);
  const int64_t planes = in[0] * in[1], H = in[2], W = in[3], OH = out[2], OW = out[3];
  std::vector<double> y;
  if (argmax) argmax->clear();
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        bool found = false;
        double best = 0.0;
        int64_t best_at = -1;
        for (int i = 0; i < s.kernel_h; ++i) {
          for (int j = 0; j < s.kernel_w; ++j) {
            const int64_t h = oh * s.stride_h - s.pad_h + i, w = ow * s.stride_w - s.pad_w + j;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const double v = x[static_cast<size_t>((p * H + h) * W + w)];
            if (!found || v > best) best = v, best_at = h * W + w, found = true;
          }
        }
        y.push_back(best);
        if (argmax) argmax->push_back(static_cast<int32_t>(best_at));
      }
    }
  }
  return y;
}

// Mean of each window: the sum over real elements divided by the number of window positions
// inside the padded input (count_include_pad) or inside the input itself.
std::vector<double> avg_pool_reference(const std::vector<double>& x, const Shape& in,
                                       const Pool2dSpec& s) {
  const Shape out = reference_output_shape(in, s);
  const int64_t planes = in[0] * in[1], H = in[2], W = in[3], OH = out[2], OW = out[3];
  std::vector<double> y;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double sum = 0.0;
        int64_t real = 0, padded = 0;
        for (int i = 0; i < s.kernel_h; ++i) {
          for (int j = 0; j < s.kernel_w; ++j) {
            const int64_t h = oh * s.stride_h - s.pad_h + i, w = ow * s.stride_w - s.pad_w + j;
            if (h >= -s.pad_h && h < H + s.pad_h && w >= -s.pad_w && w < W + s.pad_w) ++padded;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            sum += x[static_cast<size_t>((p * H + h) * W + w)];
            ++real;
          }
        }
        y.push_back(sum / static_cast<double>(s.count_include_pad ? padded : real));
      }
    }
  }
  return y;
}

Pool2dSpec spec(int k, int stride, int pad = 0, bool ceil_mode = false) {
  return Pool2dSpec{k, k, stride, stride, pad, pad, ceil_mode, true};
}

struct PoolCase {
  std::string name;
  Shape input;
  Pool2dSpec spec;
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name << " " << c.input.str(); }

class Pool2dTest : public ::testing::TestWithParam<PoolCase> {
 protected:
  Context ctx;
  const Shape& in() const { return GetParam().input; }
  const Pool2dSpec& sp() const { return GetParam().spec; }
  Shape out() const { return ops::pool2d_output_shape(in(), sp()); }
};

TEST_P(Pool2dTest, OutputShapeMatchesWindowCount) {
  EXPECT_EQ(out(), reference_output_shape(in(), sp()));
}

TEST_P(Pool2dTest, MaxForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed());
  const Tensor x = test::random_tensor(in(), gen);
  Tensor y = Tensor::empty(out()), argmax = Tensor::empty(out(), DType::I32);
  ops::max_pool2d_forward(ctx, x, y, argmax, sp());
  std::vector<int32_t> expected_argmax;
  const auto expected = max_pool_reference(test::to_double(x), in(), sp(), &expected_argmax);
  EXPECT_TRUE(test::all_close(expected, y, 0.0, 0.0));
  EXPECT_EQ(argmax.to_int_vector(), expected_argmax);
}

TEST_P(Pool2dTest, MaxBackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const Tensor x = test::random_tensor(in(), gen);
  const Tensor dy = test::random_tensor(out(), gen);
  Tensor y = Tensor::empty(out()), argmax = Tensor::empty(out(), DType::I32);
  Tensor dx = test::random_tensor(in(), gen);  // garbage: the backward must overwrite it
  ops::max_pool2d_forward(ctx, x, y, argmax, sp());
  ops::max_pool2d_backward(ctx, dy, argmax, dx, sp());
  const auto reference = [&](const std::vector<double>& v) {
    return max_pool_reference(v, in(), sp(), nullptr);
  };
  const auto expected =
      test::numeric_gradient(reference, test::to_double(x), test::to_double(dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-6, 1e-6));
}

TEST_P(Pool2dTest, AvgForwardMatchesReference) {
  for (const bool include_pad : {true, false}) {
    SCOPED_TRACE(include_pad ? "count_include_pad" : "exclude pad");
    Pool2dSpec s = sp();
    s.count_include_pad = include_pad;
    std::mt19937_64 gen(test::test_seed() + 2);
    const Tensor x = test::random_tensor(in(), gen);
    Tensor y = Tensor::empty(out());
    ops::avg_pool2d_forward(ctx, x, y, s);
    EXPECT_TRUE(test::all_close(avg_pool_reference(test::to_double(x), in(), s), y, 1e-6, 1e-6));
  }
}

TEST_P(Pool2dTest, AvgBackwardMatchesCentralDifferences) {
  for (const bool include_pad : {true, false}) {
    SCOPED_TRACE(include_pad ? "count_include_pad" : "exclude pad");
    Pool2dSpec s = sp();
    s.count_include_pad = include_pad;
    std::mt19937_64 gen(test::test_seed() + 3);
    const Tensor x = test::random_tensor(in(), gen);
    const Tensor dy = test::random_tensor(out(), gen);
    Tensor dx = test::random_tensor(in(), gen);
    ops::avg_pool2d_backward(ctx, dy, dx, s);
    const auto reference = [&](const std::vector<double>& v) {
      return avg_pool_reference(v, in(), s);
    };
    const auto expected =
        test::numeric_gradient(reference, test::to_double(x), test::to_double(dy));
    EXPECT_TRUE(test::all_close(expected, dx, 1e-5, 1e-6));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Pool2dTest,
    ::testing::Values(
        PoolCase{"batch1_odd_k3s2p1", Shape{1, 2, 7, 9}, spec(3, 2, 1)},
        PoolCase{"alexnet_32_to_15", Shape{1, 2, 32, 32}, spec(3, 2)},
        PoolCase{"alexnet_15_to_7", Shape{2, 3, 15, 15}, spec(3, 2)},
        PoolCase{"alexnet_7_to_3", Shape{2, 3, 7, 7}, spec(3, 2)},
        PoolCase{"lenet_k2s2", Shape{2, 3, 8, 6}, spec(2, 2)},
        // LeNet's first pooling (the host's SSE path: groups of four windows) and a 2x2 case
        // with a scalar tail and an uncovered last row and column.
        PoolCase{"lenet_24_to_12", Shape{2, 3, 24, 24}, spec(2, 2)},
        PoolCase{"k2s2_11x21", Shape{1, 2, 11, 21}, spec(2, 2)},
        PoolCase{"stride1_pad1", Shape{1, 3, 5, 6}, spec(3, 1, 1)},
        // GoogLeNet: the Inception pool branch MaxPool2d(3, stride=1, padding=1, ceil_mode=True)
        // and the stem's MaxPool2d(3, stride=2, ceil_mode=True), whose last window hangs over.
        PoolCase{"googlenet_branch_k3s1p1_ceil", Shape{2, 3, 7, 7}, spec(3, 1, 1, true)},
        PoolCase{"googlenet_stem_k3s2_ceil", Shape{1, 2, 14, 14}, spec(3, 2, 0, true)},
        PoolCase{"floor_5x5_k2s2", Shape{2, 3, 5, 5}, spec(2, 2)},
        PoolCase{"ceil_5x5_k2s2", Shape{2, 3, 5, 5}, spec(2, 2, 0, true)},
        // Ceil windows hanging past the right padding (avg divisor clipped to the padding).
        PoolCase{"ceil_6x8_k3s2p1", Shape{1, 2, 6, 8}, spec(3, 2, 1, true)},
        // Ceil mode drops the last window here: it would start in the right padding.
        PoolCase{"ceil_3x3_k2s2p1", Shape{1, 2, 3, 3}, spec(2, 2, 1, true)},
        PoolCase{"ceil_4x4_k2s2p1", Shape{1, 2, 4, 4}, spec(2, 2, 1, true)},
        // Ceil mode keeps one window although the kernel is larger than the input (PyTorch too).
        PoolCase{"ceil_kernel_over_input", Shape{1, 1, 4, 4}, spec(5, 2, 0, true)},
        PoolCase{"rectangular", Shape{2, 2, 6, 7}, Pool2dSpec{2, 3, 1, 2, 1, 1, false, true}},
        PoolCase{"rectangular_ceil", Shape{1, 2, 7, 6}, Pool2dSpec{3, 2, 2, 3, 1, 0, true, true}},
        PoolCase{"global_1x1", Shape{2, 3, 4, 5}, Pool2dSpec{4, 5, 1, 1, 0, 0, false, true}}),
    [](const ::testing::TestParamInfo<PoolCase>& param) { return param.param.name; });

// Output sizes PyTorch gives for these cases (checked against torch.nn.functional).
TEST(Pool2dShape, KnownPyTorchCases) {
  EXPECT_EQ(ops::pool2d_output_shape(Shape{8, 64, 32, 32}, spec(3, 2)), (Shape{8, 64, 15, 15}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 15, 15}, spec(3, 2)), (Shape{1, 1, 7, 7}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 7, 7}, spec(3, 2)), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 96, 55, 55}, spec(3, 2)), (Shape{1, 96, 27, 27}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 13, 13}, spec(3, 2)), (Shape{1, 1, 6, 6}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 5, 5}, spec(2, 2, 0, true)), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 5, 5}, spec(2, 2, 0, false)), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 4, 4}, spec(2, 2, 1, true)), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 3, 3}, spec(2, 2, 1, true)), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 6, 6}, spec(3, 2, 1, true)), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 6, 6}, spec(3, 2, 1, false)),
            (Shape{1, 1, 3, 3}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 28, 28}, spec(2, 2)), (Shape{1, 1, 14, 14}));
  // torchvision's GoogLeNet at 224x224: maxpool1..3 (3, stride 2, ceil) 112 -> 56 -> 28 -> 14
  // (floor would give 55, 27, 13), maxpool4 (2, stride 2, ceil) 14 -> 7, and the Inception
  // branch (3, stride 1, padding 1, ceil) keeps the size.
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 64, 112, 112}, spec(3, 2, 0, true)),
            (Shape{1, 64, 56, 56}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 56, 56}, spec(3, 2, 0, true)),
            (Shape{1, 1, 28, 28}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 28, 28}, spec(3, 2, 0, true)),
            (Shape{1, 1, 14, 14}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 112, 112}, spec(3, 2)), (Shape{1, 1, 55, 55}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 14, 14}, spec(2, 2, 0, true)),
            (Shape{1, 1, 7, 7}));
  EXPECT_EQ(ops::pool2d_output_shape(Shape{1, 1, 28, 28}, spec(3, 1, 1, true)),
            (Shape{1, 1, 28, 28}));
}

// Many equal values: the argmax must be the first maximum in row-major window order.
TEST(MaxPool2d, TiesPickTheFirstMaximum) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 4);
  const Shape in{2, 3, 9, 8};
  const Pool2dSpec s = spec(3, 2, 1, true);
  Tensor x = test::random_tensor(in, gen, 0.0f, 3.0f);
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = std::floor(p[i]);  // values in {0, 1, 2}
  const Shape out = ops::pool2d_output_shape(in, s);
  Tensor y = Tensor::empty(out), argmax = Tensor::empty(out, DType::I32);
  ops::max_pool2d_forward(ctx, x, y, argmax, s);
  std::vector<int32_t> expected_argmax;
  const auto expected = max_pool_reference(test::to_double(x), in, s, &expected_argmax);
  EXPECT_TRUE(test::all_close(expected, y, 0.0, 0.0));
  EXPECT_EQ(argmax.to_int_vector(), expected_argmax);
}

// Padding is never the maximum, even when every real element is negative.
TEST(MaxPool2d, PaddingNeverWins) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 5);
  const Shape in{1, 2, 5, 5};
  const Pool2dSpec s = spec(3, 2, 1, true);
  const Tensor x = test::random_tensor(in, gen, -2.0f, -1.0f);
  const Shape out = ops::pool2d_output_shape(in, s);
  Tensor y = Tensor::empty(out), argmax = Tensor::empty(out, DType::I32);
  ops::max_pool2d_forward(ctx, x, y, argmax, s);
  for (const float v : y.to_vector()) EXPECT_LT(v, -1.0f + 1e-6f);
  std::vector<int32_t> expected_argmax;
  EXPECT_TRUE(test::all_close(max_pool_reference(test::to_double(x), in, s, &expected_argmax), y,
                              0.0, 0.0));
  EXPECT_EQ(argmax.to_int_vector(), expected_argmax);
}

// A NaN in a window makes that window's output NaN and its argmax point at the NaN.
TEST(MaxPool2d, NanPropagates) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 6);
  const Shape in{1, 1, 4, 4};
  Tensor x = test::random_tensor(in, gen);
  x.data<float>()[1 * 4 + 1] = std::numeric_limits<float>::quiet_NaN();
  const Shape out = ops::pool2d_output_shape(in, spec(2, 2));
  Tensor y = Tensor::empty(out), argmax = Tensor::empty(out, DType::I32);
  ops::max_pool2d_forward(ctx, x, y, argmax, spec(2, 2));
  const auto v = y.to_vector();
  const auto idx = argmax.to_int_vector();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(idx[0], 5);
  for (size_t i = 1; i < v.size(); ++i) EXPECT_FALSE(std::isnan(v[i])) << i;
}

// The backward sends each gradient to the recorded argmax, including a repeated one: with
// stride 1 one input element can be the maximum of several windows.
TEST(MaxPool2d, BackwardSumsOverlappingWindows) {
  Context ctx;
  const Tensor x = Tensor::from_vector(Shape{1, 1, 3, 3},
                                       std::vector<float>{0, 1, 0, 2, 9, 3, 0, 4, 0});
  const Pool2dSpec s = spec(2, 1);
  Tensor y = Tensor::empty(Shape{1, 1, 2, 2}), argmax = Tensor::empty(Shape{1, 1, 2, 2}, DType::I32);
  ops::max_pool2d_forward(ctx, x, y, argmax, s);
  EXPECT_EQ(argmax.to_int_vector(), (std::vector<int32_t>{4, 4, 4, 4}));
  const Tensor dy = Tensor::from_vector(Shape{1, 1, 2, 2}, std::vector<float>{1, 2, 4, 8});
  Tensor dx = Tensor::empty(Shape{1, 1, 3, 3});
  ops::max_pool2d_backward(ctx, dy, argmax, dx, s);
  EXPECT_EQ(dx.to_vector(), (std::vector<float>{0, 0, 0, 0, 15, 0, 0, 0, 0}));
}

template <class Run>
void expect_same_bits_with_1_and_2_threads(const Run& run, const char* what) {
  cpu::set_num_threads(1);
  const std::vector<float> one = run();
  cpu::set_num_threads(2);
  const std::vector<float> two = run();
  cpu::set_num_threads(0);
  ASSERT_EQ(one.size(), two.size()) << what;
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0) << what;
}

TEST(Pool2d, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 7);
  const Shape in{3, 5, 33, 31};
  const Pool2dSpec s = spec(3, 2, 1, true);
  const Shape out = ops::pool2d_output_shape(in, s);
  const Tensor x = test::random_tensor(in, gen);
  const Tensor dy = test::random_tensor(out, gen);
  Tensor argmax = Tensor::empty(out, DType::I32);
  expect_same_bits_with_1_and_2_threads(
      [&] {
        Tensor y = Tensor::empty(out);
        ops::max_pool2d_forward(ctx, x, y, argmax, s);
        return y.to_vector();
      },
      "max_pool2d_forward");
  expect_same_bits_with_1_and_2_threads(
      [&] {
        Tensor dx = Tensor::empty(in);
        ops::max_pool2d_backward(ctx, dy, argmax, dx, s);
        return dx.to_vector();
      },
      "max_pool2d_backward");
  expect_same_bits_with_1_and_2_threads(
      [&] {
        Tensor y = Tensor::empty(out);
        ops::avg_pool2d_forward(ctx, x, y, s);
        return y.to_vector();
      },
      "avg_pool2d_forward");
  expect_same_bits_with_1_and_2_threads(
      [&] {
        Tensor dx = Tensor::empty(in);
        ops::avg_pool2d_backward(ctx, dy, dx, s);
        return dx.to_vector();
      },
      "avg_pool2d_backward");
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected kestrel::Error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Pool2dErrors, KernelLargerThanPaddedInput) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{1, 2, 3, 4});
  Tensor y = Tensor::zeros(Shape{1, 2, 1, 1}), argmax = Tensor::zeros(Shape{1, 2, 1, 1}, DType::I32);
  expect_error([&] { ops::max_pool2d_forward(ctx, x, y, argmax, spec(5, 1)); },
               "max_pool2d: kernel 5x5 is larger than the padded input 3x4 (input [1, 2, 3, 4], "
               "padding 0x0, stride 1x1): output would be 0x0");
  expect_error([&] { ops::avg_pool2d_forward(ctx, x, y, spec(6, 1, 1)); },
               "avg_pool2d: kernel 6x6 is larger than the padded input 5x6");
  expect_error([&] { ops::pool2d_output_shape(Shape{1, 1, 2, 2}, spec(4, 1, 0, true)); },
               "pool2d: kernel 4x4 is larger than the padded input 2x2");
}

TEST(Pool2dErrors, PaddingMoreThanHalfTheKernel) {
  expect_error([&] { ops::pool2d_output_shape(Shape{1, 1, 8, 8}, spec(3, 2, 2)); },
               "pool2d: padding 2x2 must be at most half the kernel size 3x3");
  Context ctx;
  const Tensor dy = Tensor::zeros(Shape{1, 1, 4, 4});
  Tensor dx = Tensor::zeros(Shape{1, 1, 8, 8});
  expect_error([&] { ops::avg_pool2d_backward(ctx, dy, dx, Pool2dSpec{4, 2, 2, 2, 1, 2}); },
               "avg_pool2d_backward: padding 1x2 must be at most half the kernel size 4x2");
}

TEST(Pool2dErrors, BadKernelStrideOrRank) {
  expect_error([&] { ops::pool2d_output_shape(Shape{1, 1, 8, 8}, spec(0, 1)); },
               "pool2d: kernel size must be positive, got 0x0");
  expect_error([&] { ops::pool2d_output_shape(Shape{1, 1, 8, 8}, spec(2, 0)); },
               "pool2d: stride must be positive, got 0x0");
  expect_error([&] { ops::pool2d_output_shape(Shape{1, 1, 8, 8}, spec(2, 2, -1)); },
               "pool2d: padding must be non-negative, got -1x-1");
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 8, 8});
  Tensor y = Tensor::zeros(Shape{2, 4, 4});
  expect_error([&] { ops::avg_pool2d_forward(ctx, x, y, spec(2, 2)); },
               "avg_pool2d: input must have 4 dimensions, got [2, 8, 8]");
}

TEST(Pool2dErrors, WrongArgmaxDtypeOrShape) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 8, 8});
  Tensor y = Tensor::zeros(Shape{2, 3, 4, 4});
  Tensor float_argmax = Tensor::zeros(Shape{2, 3, 4, 4});
  expect_error([&] { ops::max_pool2d_forward(ctx, x, y, float_argmax, spec(2, 2)); },
               "max_pool2d: argmax must be i32, got f32[2, 3, 4, 4]");
  Tensor small_argmax = Tensor::zeros(Shape{2, 3, 4, 3}, DType::I32);
  expect_error([&] { ops::max_pool2d_forward(ctx, x, y, small_argmax, spec(2, 2)); },
               "max_pool2d: argmax has shape [2, 3, 4, 3], expected [2, 3, 4, 4]");
  const Tensor dy = Tensor::zeros(Shape{2, 3, 4, 4});
  Tensor dx = Tensor::zeros(Shape{2, 3, 8, 8});
  expect_error([&] { ops::max_pool2d_backward(ctx, dy, small_argmax, dx, spec(2, 2)); },
               "max_pool2d_backward: argmax has shape [2, 3, 4, 3], expected [2, 3, 4, 4]");
  expect_error([&] { ops::max_pool2d_backward(ctx, dy, float_argmax, dx, spec(2, 2)); },
               "max_pool2d_backward: argmax must be i32, got f32[2, 3, 4, 4]");
}

TEST(Pool2dErrors, WrongOutputOrGradientShape) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 9, 9});
  Tensor y = Tensor::zeros(Shape{2, 3, 4, 4});
  expect_error([&] { ops::avg_pool2d_forward(ctx, x, y, spec(3, 2, 1)); },
               "avg_pool2d: output has shape [2, 3, 4, 4], expected [2, 3, 5, 5]");
  const Tensor dy = Tensor::zeros(Shape{2, 4, 5, 5});
  Tensor dx = Tensor::zeros(Shape{2, 3, 9, 9});
  expect_error([&] { ops::avg_pool2d_backward(ctx, dy, dx, spec(3, 2, 1)); },
               "avg_pool2d_backward: grad_output has shape [2, 4, 5, 5], expected [2, 3, 5, 5]");
}

// Max pooling as PyTorch defines it for padding: the input padded with -inf on every side, then
// the maximum over every kernel window that the output size (floor or ceil) keeps. Written
// independently of max_pool_reference above (which skips padded positions instead).
std::vector<double> max_pool_padded_reference(const std::vector<double>& x, const Shape& in, int k,
                                              int stride, int pad, const Shape& out) {
  const int64_t H = in[2], W = in[3], PH = H + 2 * pad + k, PW = W + 2 * pad + k;
  std::vector<double> y;
  for (int64_t p = 0; p < in[0] * in[1]; ++p) {
    // Padded generously on the bottom and right so that ceil-mode windows stay inside.
    std::vector<double> padded(static_cast<size_t>(PH * PW), -INFINITY);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        padded[static_cast<size_t>((h + pad) * PW + w + pad)] =
            x[static_cast<size_t>((p * H + h) * W + w)];
    for (int64_t oh = 0; oh < out[2]; ++oh)
      for (int64_t ow = 0; ow < out[3]; ++ow) {
        double best = -INFINITY;
        for (int i = 0; i < k; ++i)
          for (int j = 0; j < k; ++j)
            best = std::max(best,
                            padded[static_cast<size_t>((oh * stride + i) * PW + ow * stride + j)]);
        y.push_back(best);
      }
  }
  return y;
}

// Through the layer, as GoogLeNet builds it: MaxPool2d(3, stride=1, padding=1) (its Inception
// pool branch) and MaxPool2d(3, stride=2, ceil_mode=True) (its stem), forward against the -inf
// padded reference and backward against central differences.
TEST(MaxPool2dLayer, GoogLeNetPoolsMatchTheMinusInfinityPaddedReference) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 8);
  struct LayerCase {
    nn::PoolOptions options;
    Shape input, output;
  };
  const LayerCase cases[] = {
      {nn::PoolOptions{.stride = 1, .padding = 1}, Shape{2, 3, 6, 7}, Shape{2, 3, 6, 7}},
      {nn::PoolOptions{.stride = 1, .padding = 1, .ceil_mode = true}, Shape{1, 2, 5, 5},
       Shape{1, 2, 5, 5}},
      {nn::PoolOptions{.stride = 2, .ceil_mode = true}, Shape{2, 2, 10, 9}, Shape{2, 2, 5, 4}},
  };
  for (const LayerCase& c : cases) {
    SCOPED_TRACE(c.input.str() + " stride " + std::to_string(c.options.stride));
    nn::MaxPool2d layer("pool", 3, c.options);
    ASSERT_EQ(layer.setup(c.input), c.output);
    Tensor argmax = Tensor::empty(layer.saved()[0].shape, DType::I32);
    layer.bind_saved(std::vector<Tensor>{argmax});
    const Tensor x = test::random_tensor(c.input, gen, -2.0f, -1.0f);  // all negative
    Tensor y = test::poisoned(c.output);
    layer.forward(ctx, x, y, nn::StepInfo{});
    const auto reference = [&](const std::vector<double>& v) {
      return max_pool_padded_reference(v, c.input, 3, c.options.stride, c.options.padding,
                                       c.output);
    };
    EXPECT_TRUE(test::all_close(reference(test::to_double(x)), y, 0.0, 0.0));
    const Tensor dy = test::random_tensor(c.output, gen);
    Tensor dx = test::poisoned(c.input);
    layer.backward(ctx, x, y, dy, &dx, nn::StepInfo{});
    EXPECT_TRUE(
        test::all_close(test::numeric_gradient(reference, test::to_double(x), test::to_double(dy)),
                        dx, 1e-5, 1e-6));
  }
}

}  // namespace
}  // namespace kestrel
