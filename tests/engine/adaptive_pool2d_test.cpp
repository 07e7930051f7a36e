// adaptive_avg_pool2d: forward against a float64 reference (PyTorch's window rule computed in
// floating point), backward against central differences, including outputs larger than the
// input (AlexNet's 3x3 -> 6x6).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/ops/pool2d.hpp"
#include "kernels/common/adaptive_pool2d.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// Output cell o of `out` averages input cells [floor(o*in/out), ceil((o+1)*in/out)).
std::vector<double> adaptive_avg_reference(const std::vector<double>& x, const Shape& in,
                                           int64_t OH, int64_t OW) {
  const int64_t planes = in[0] * in[1], H = in[2], W = in[3];
  const auto lo = [](int64_t o, int64_t n_in, int64_t n_out) {
    return static_cast<int64_t>(std::floor(static_cast<double>(o * n_in) / n_out));
  };
  const auto hi = [](int64_t o, int64_t n_in, int64_t n_out) {
    return static_cast<int64_t>(std::ceil(static_cast<double>((o + 1) * n_in) / n_out));
  };
  std::vector<double> y;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        double sum = 0.0;
        int64_t count = 0;
        for (int64_t h = lo(oh, H, OH); h < hi(oh, H, OH); ++h) {
          for (int64_t w = lo(ow, W, OW); w < hi(ow, W, OW); ++w) {
            sum += x[static_cast<size_t>((p * H + h) * W + w)];
            ++count;
          }
        }
        y.push_back(sum / static_cast<double>(count));
      }
    }
  }
  return y;
}

struct AdaptiveCase {
  std::string name;
  Shape input;
  int out_h, out_w;
};

void PrintTo(const AdaptiveCase& c, std::ostream* os) {
  *os << c.name << " " << c.input.str() << " -> " << c.out_h << "x" << c.out_w;
}

class AdaptiveAvgPool2dTest : public ::testing::TestWithParam<AdaptiveCase> {
 protected:
  Context ctx;
  const Shape& in() const { return GetParam().input; }
  Shape out() const {
    return ops::adaptive_avg_pool2d_output_shape(in(), GetParam().out_h, GetParam().out_w);
  }
};

TEST_P(AdaptiveAvgPool2dTest, OutputShape) {
  EXPECT_EQ(out(), (Shape{in()[0], in()[1], GetParam().out_h, GetParam().out_w}));
}

TEST_P(AdaptiveAvgPool2dTest, ForwardMatchesReference) {
  std::mt19937_64 gen(test::test_seed() + 10);
  const Tensor x = test::random_tensor(in(), gen);
  Tensor y = Tensor::empty(out());
  ops::adaptive_avg_pool2d_forward(ctx, x, y);
  const auto expected =
      adaptive_avg_reference(test::to_double(x), in(), GetParam().out_h, GetParam().out_w);
  EXPECT_TRUE(test::all_close(expected, y, 1e-6, 1e-6));
}

TEST_P(AdaptiveAvgPool2dTest, BackwardMatchesCentralDifferences) {
  std::mt19937_64 gen(test::test_seed() + 11);
  const Tensor x = test::random_tensor(in(), gen);
  const Tensor dy = test::random_tensor(out(), gen);
  Tensor dx = test::random_tensor(in(), gen);  // garbage: the backward must overwrite it
  ops::adaptive_avg_pool2d_backward(ctx, dy, dx);
  const auto reference = [&](const std::vector<double>& v) {
    return adaptive_avg_reference(v, in(), GetParam().out_h, GetParam().out_w);
  };
  const auto expected =
      test::numeric_gradient(reference, test::to_double(x), test::to_double(dy));
  EXPECT_TRUE(test::all_close(expected, dx, 1e-5, 1e-6));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AdaptiveAvgPool2dTest,
    ::testing::Values(AdaptiveCase{"alexnet_3x3_to_6x6", Shape{2, 3, 3, 3}, 6, 6},
                      AdaptiveCase{"alexnet_7x7_to_6x6", Shape{2, 3, 7, 7}, 6, 6},
                      AdaptiveCase{"identity_6x6", Shape{1, 2, 6, 6}, 6, 6},
                      AdaptiveCase{"odd_5x7_to_2x3", Shape{2, 2, 5, 7}, 2, 3},
                      AdaptiveCase{"global_to_1x1", Shape{1, 3, 5, 4}, 1, 1},
                      AdaptiveCase{"global_7x7_to_1x1", Shape{4, 5, 7, 7}, 1, 1},
                      AdaptiveCase{"up_and_down_4x10_to_7x3", Shape{1, 2, 4, 10}, 7, 3},
                      AdaptiveCase{"upsample_2x3_to_5x7", Shape{1, 1, 2, 3}, 5, 7},
                      AdaptiveCase{"alexnet224_13x13_to_6x6", Shape{1, 2, 13, 13}, 6, 6},
                      AdaptiveCase{"repeat_2x3_to_4x9", Shape{2, 3, 2, 3}, 4, 9}),
    [](const ::testing::TestParamInfo<AdaptiveCase>& param) { return param.param.name; });

// With equal input and output sizes every window is one element: an exact copy.
TEST(AdaptiveAvgPool2d, SameSizeIsACopy) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 12);
  const Tensor x = test::random_tensor(Shape{2, 3, 6, 6}, gen);
  Tensor y = Tensor::empty(Shape{2, 3, 6, 6});
  ops::adaptive_avg_pool2d_forward(ctx, x, y);
  EXPECT_EQ(y.to_vector(), x.to_vector());
}

// 3x3 -> 6x6 windows are single elements, each input element repeated as a 2x2 block.
TEST(AdaptiveAvgPool2d, DoublingRepeatsEachElement) {
  Context ctx;
  const Tensor x = Tensor::from_vector(Shape{1, 1, 3, 3},
                                       std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor y = Tensor::empty(Shape{1, 1, 6, 6});
  ops::adaptive_avg_pool2d_forward(ctx, x, y);
  const auto v = y.to_vector();
  for (int oh = 0; oh < 6; ++oh)
    for (int ow = 0; ow < 6; ++ow)
      EXPECT_EQ(v[static_cast<size_t>(oh * 6 + ow)], static_cast<float>((oh / 2) * 3 + ow / 2 + 1))
          << oh << "," << ow;
}

// Output sides that are multiples of the input's take a plane-per-call path (the window
// arithmetic drops out): it must give the general functors' bits, forward and backward, signed
// zeros included (the general sum starts from +0).
TEST(AdaptiveAvgPool2d, RepeatPathGivesTheGeneralBits) {
  std::mt19937_64 gen(test::test_seed() + 16);
  for (const auto& [in, oh, ow] : {std::tuple{Shape{4, 5, 3, 3}, 6, 6},
                                   std::tuple{Shape{2, 3, 2, 3}, 4, 9},
                                   std::tuple{Shape{1, 2, 5, 5}, 5, 5}}) {
    SCOPED_TRACE(in.str() + " -> " + std::to_string(oh) + "x" + std::to_string(ow));
    const Shape out{in[0], in[1], oh, ow};
    Tensor x = test::random_tensor(in, gen);
    Tensor dy = test::random_tensor(out, gen);
    x.data<float>()[0] = -0.0f;
    for (int64_t k = 0; k < out[2] * out[3]; ++k) dy.data<float>()[k] = -0.0f;  // a whole plane
    const kernels::AdaptivePool2dGeometry g{in[0] * in[1], static_cast<int>(in[2]),
                                            static_cast<int>(in[3]), oh, ow};
    ASSERT_TRUE(kernels::adaptive_pool_repeats(g));
    std::vector<float> y_general(static_cast<size_t>(out.numel()));
    std::vector<float> dx_general(static_cast<size_t>(in.numel()));
    cpu::launch(out.numel(),
                kernels::AdaptiveAvgPool2dForward{g, x.data<float>(), y_general.data()});
    cpu::launch(in.numel(),
                kernels::AdaptiveAvgPool2dBackward{g, dy.data<float>(), dx_general.data()});
    Context ctx;
    Tensor y = Tensor::empty(out), dx = Tensor::empty(in);
    ops::adaptive_avg_pool2d_forward(ctx, x, y);
    ops::adaptive_avg_pool2d_backward(ctx, dy, dx);
    EXPECT_TRUE(test::same_bits(y_general, y.to_vector()));
    EXPECT_TRUE(test::same_bits(dx_general, dx.to_vector()));
  }
}

// The global pool (torchvision's AdaptiveAvgPool2d((1, 1)) before the classifier, and the
// squeeze of a squeeze-and-excitation block): one pass per plane, the plane's f32 sum in
// row-major order divided by H * W, and its gradient dy / (H * W) everywhere in the plane.
TEST(AdaptiveAvgPool2d, GlobalPoolIsOnePassPerPlane) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 14);
  const Shape in{4, 5, 7, 7}, out{4, 5, 1, 1};
  const Tensor x = test::random_tensor(in, gen);
  const Tensor dy = test::random_tensor(out, gen);
  Tensor y = Tensor::empty(out), dx = Tensor::empty(in);
  ops::adaptive_avg_pool2d_forward(ctx, x, y);
  ops::adaptive_avg_pool2d_backward(ctx, dy, dx);
  const float* xp = x.data<float>();
  std::vector<float> expected_y, expected_dx;
  for (int64_t p = 0; p < 20; ++p) {
    float sum = 0.0f;
    for (int64_t k = 0; k < 49; ++k) sum += xp[p * 49 + k];
    expected_y.push_back(sum / 49.0f);
    for (int64_t k = 0; k < 49; ++k) expected_dx.push_back(dy.data<float>()[p] / 49.0f);
  }
  EXPECT_TRUE(test::same_bits(expected_y, y.to_vector()));
  EXPECT_TRUE(test::same_bits(expected_dx, dx.to_vector()));
}

TEST(AdaptiveAvgPool2d, ThreadCountDoesNotChangeResults) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 13);
  const Shape in{3, 5, 13, 11}, out{3, 5, 6, 6};
  const Tensor x = test::random_tensor(in, gen);
  const Tensor dy = test::random_tensor(out, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(out), dx = Tensor::empty(in);
    ops::adaptive_avg_pool2d_forward(ctx, x, y);
    ops::adaptive_avg_pool2d_backward(ctx, dy, dx);
    cpu::set_num_threads(0);
    return std::make_pair(y.to_vector(), dx.to_vector());
  };
  const auto one = run(1), two = run(2);
  EXPECT_EQ(std::memcmp(one.first.data(), two.first.data(), one.first.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(one.second.data(), two.second.data(), one.second.size() * sizeof(float)),
            0);
}

// A global pool over fewer planes than cpu::kMinParallelWork still reads whole planes per
// output (a ResNet-20 batch: [128, 64, 8, 8]); with 1 or 2 threads the same bits.
TEST(AdaptiveAvgPool2d, GlobalPoolSameBitsWithOneOrTwoThreads) {
  Context ctx;
  std::mt19937_64 gen(test::test_seed() + 15);
  const Shape in{32, 64, 8, 8}, out{32, 64, 1, 1};
  const Tensor x = test::random_tensor(in, gen);
  const auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    Tensor y = Tensor::empty(out);
    ops::adaptive_avg_pool2d_forward(ctx, x, y);
    cpu::set_num_threads(0);
    return y;
  };
  EXPECT_TRUE(test::same_bits(run(1), run(2)));
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "expected kestrel::Error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(AdaptiveAvgPool2dErrors, BadShapes) {
  Context ctx;
  expect_error([] { ops::adaptive_avg_pool2d_output_shape(Shape{1, 3, 5, 5}, 0, 6); },
               "adaptive_avg_pool2d: output size must be positive, got 0x6");
  expect_error([] { ops::adaptive_avg_pool2d_output_shape(Shape{3, 5, 5}, 6, 6); },
               "adaptive_avg_pool2d: input must have 4 dimensions (N, C, H, W), got [3, 5, 5]");
  const Tensor x = Tensor::zeros(Shape{2, 3, 7, 7});
  Tensor y = Tensor::zeros(Shape{2, 4, 6, 6});
  expect_error([&] { ops::adaptive_avg_pool2d_forward(ctx, x, y); },
               "adaptive_avg_pool2d: output has shape [2, 4, 6, 6], expected [2, 3, 6, 6]");
  const Tensor dy = Tensor::zeros(Shape{1, 3, 6, 6});
  Tensor dx = Tensor::zeros(Shape{2, 3, 7, 7});
  expect_error([&] { ops::adaptive_avg_pool2d_backward(ctx, dy, dx); },
               "adaptive_avg_pool2d_backward: grad_output has shape [1, 3, 6, 6], expected "
               "[2, 3, 6, 6]");
  const Tensor empty = Tensor::zeros(Shape{2, 3, 0, 7});
  expect_error([&] { ops::adaptive_avg_pool2d_forward(ctx, empty, y); },
               "adaptive_avg_pool2d: input [2, 3, 0, 7] has an empty spatial dimension");
}

}  // namespace
}  // namespace kestrel
