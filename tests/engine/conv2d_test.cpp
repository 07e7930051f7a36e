// conv2d forward against a naive float64 convolution; the three backward passes against
// central differences of that reference, on both host paths (im2col + GEMM, and oneDNN where
// the build has it: MathOptions::cpu_onednn); thread-count independence; argument errors.
#include "engine/ops/conv2d.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>

#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using ops::Conv2dSpec;

// Output extent written out here rather than taken from the library.
int64_t out_extent(int64_t in, int64_t kernel, int stride, int pad, int dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

Shape reference_output_shape(const Shape& xs, const Shape& ws, const Conv2dSpec& sp) {
  return Shape{xs[0], ws[0], out_extent(xs[2], ws[2], sp.stride_h, sp.pad_h, sp.dilation_h),
               out_extent(xs[3], ws[3], sp.stride_w, sp.pad_w, sp.dilation_w)};
}

// y[n][k][oh][ow] = b[k] + sum_{c, r, s} x[n][g C/G + c][oh sh - ph + r dh][ow sw - pw + s dw]
//                                        * w[k][c][r][s], with g = k / (K / G).
std::vector<double> conv2d_reference(const std::vector<double>& x, const Shape& xs,
                                     const std::vector<double>& w, const Shape& ws,
                                     const std::vector<double>* b, const Conv2dSpec& sp) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  const int64_t K = ws[0], CG = ws[1], R = ws[2], S = ws[3];
  const Shape ys = reference_output_shape(xs, ws, sp);
  const int64_t OH = ys[2], OW = ys[3], KG = K / sp.groups;
  std::vector<double> y(static_cast<size_t>(ys.numel()));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b != nullptr ? (*b)[static_cast<size_t>(k)] : 0.0;
          const int64_t c0 = (k / KG) * CG;
          for (int64_t c = 0; c < CG; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = oh * sp.stride_h - sp.pad_h + r * sp.dilation_h;
                const int64_t iw = ow * sp.stride_w - sp.pad_w + s * sp.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x[static_cast<size_t>(((n * C + c0 + c) * H + ih) * W + iw)] *
                       w[static_cast<size_t>(((k * CG + c) * R + r) * S + s)];
              }
          y[static_cast<size_t>(((n * K + k) * OH + oh) * OW + ow)] = acc;
        }
  return y;
}

struct ConvCase {
  std::string name;
  Shape input, weight;
  Conv2dSpec spec;
  bool bias = true;
  bool onednn = false;  // MathOptions::cpu_onednn
};

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << c.name << " input " << c.input.str() << " weight " << c.weight.str()
      << (c.onednn ? " (oneDNN)" : "");
}

// The same cases on the oneDNN path, named ..._oneDNN.
std::vector<ConvCase> on_onednn(std::vector<ConvCase> cases) {
  for (ConvCase& c : cases) c.onednn = true, c.name += "_oneDNN";
  return cases;
}

// A fixture whose oneDNN cases skip in a build without it.
template <class Param>
class ConvFixture : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (this->GetParam().onednn && !cpu::onednn::built())
      GTEST_SKIP() << "this build has no oneDNN (libdnnl-dev)";
  }
  void TearDown() override { cpu::set_num_threads(0); }
};

Conv2dSpec spec_of(int stride_h, int stride_w, int pad_h, int pad_w, int dilation_h = 1,
                   int dilation_w = 1, int groups = 1) {
  Conv2dSpec s;
  s.stride_h = stride_h, s.stride_w = stride_w, s.pad_h = pad_h, s.pad_w = pad_w;
  s.dilation_h = dilation_h, s.dilation_w = dilation_w, s.groups = groups;
  return s;
}

// Random inputs and every result of the op for one case.
struct ConvRun {
  Tensor x, w, b, y, dy, dx, dw, db;
};

ConvRun run_all(const ConvCase& c, uint64_t seed) {
  std::mt19937_64 gen(seed);
  Context ctx;
  MathOptions math;
  math.cpu_onednn = c.onednn;
  ctx.set_math(math);
  ConvRun run;
  run.x = test::random_tensor(c.input, gen);
  run.w = test::random_tensor(c.weight, gen);
  run.b = test::random_tensor(Shape{c.weight[0]}, gen);
  const Shape ys = reference_output_shape(c.input, c.weight, c.spec);
  run.dy = test::random_tensor(ys, gen);
  // Outputs start as garbage so that "overwrites" is checked too.
  run.y = test::random_tensor(ys, gen, 50.0f, 60.0f);
  run.dx = test::random_tensor(c.input, gen, 50.0f, 60.0f);
  run.dw = test::random_tensor(c.weight, gen, 50.0f, 60.0f);
  run.db = test::random_tensor(Shape{c.weight[0]}, gen, 50.0f, 60.0f);
  ops::conv2d_forward(ctx, run.x, run.w, c.bias ? &run.b : nullptr, run.y, c.spec);
  ops::conv2d_backward_data(ctx, run.dy, run.w, run.dx, c.spec);
  ops::conv2d_backward_weight(ctx, run.x, run.dy, run.dw, c.spec);
  ops::conv2d_backward_bias(ctx, run.dy, run.db);
  return run;
}

class Conv2dTest : public ConvFixture<ConvCase> {};

TEST_P(Conv2dTest, OutputShapeMatchesFormula) {
  const ConvCase& c = GetParam();
  const Shape expected = reference_output_shape(c.input, c.weight, c.spec);
  EXPECT_EQ(ops::conv2d_output_shape(c.input, c.weight, c.spec), expected);
  const ops::Conv2dGeometry g = ops::conv2d_geometry(c.input, c.weight, c.spec);
  EXPECT_EQ((Shape{g.n, g.c, g.h, g.w}), c.input);
  EXPECT_EQ((Shape{g.k, g.c / g.groups, g.r, g.s}), c.weight);
  EXPECT_EQ((Shape{g.n, g.k, g.oh, g.ow}), expected);
  EXPECT_EQ(g.col_rows(), c.weight[1] * c.weight[2] * c.weight[3]);
}

TEST_P(Conv2dTest, ForwardMatchesReference) {
  const ConvCase& c = GetParam();
  const ConvRun run = run_all(c, test::test_seed());
  const auto b = test::to_double(run.b);
  const auto expected = conv2d_reference(test::to_double(run.x), c.input, test::to_double(run.w),
                                         c.weight, c.bias ? &b : nullptr, c.spec);
  EXPECT_TRUE(test::all_close(expected, run.y, 1e-5, 1e-5));
}

TEST_P(Conv2dTest, BackwardDataMatchesCentralDifferences) {
  const ConvCase& c = GetParam();
  const ConvRun run = run_all(c, test::test_seed() + 1);
  const auto w = test::to_double(run.w), b = test::to_double(run.b);
  const auto f = [&](const std::vector<double>& x) {
    return conv2d_reference(x, c.input, w, c.weight, c.bias ? &b : nullptr, c.spec);
  };
  const auto expected = test::numeric_gradient(f, test::to_double(run.x), test::to_double(run.dy));
  EXPECT_TRUE(test::all_close(expected, run.dx, 1e-5, 1e-5));
}

TEST_P(Conv2dTest, BackwardWeightMatchesCentralDifferences) {
  const ConvCase& c = GetParam();
  const ConvRun run = run_all(c, test::test_seed() + 2);
  const auto x = test::to_double(run.x), b = test::to_double(run.b);
  const auto f = [&](const std::vector<double>& w) {
    return conv2d_reference(x, c.input, w, c.weight, c.bias ? &b : nullptr, c.spec);
  };
  const auto expected = test::numeric_gradient(f, test::to_double(run.w), test::to_double(run.dy));
  EXPECT_TRUE(test::all_close(expected, run.dw, 1e-5, 1e-5));
}

TEST_P(Conv2dTest, BackwardBiasMatchesCentralDifferences) {
  const ConvCase& c = GetParam();
  const ConvRun run = run_all(c, test::test_seed() + 3);
  const auto x = test::to_double(run.x), w = test::to_double(run.w);
  const auto f = [&](const std::vector<double>& b) {
    return conv2d_reference(x, c.input, w, c.weight, &b, c.spec);
  };
  const auto expected = test::numeric_gradient(f, test::to_double(run.b), test::to_double(run.dy));
  EXPECT_TRUE(test::all_close(expected, run.db, 1e-5, 1e-5));
}

std::vector<ConvCase> conv_cases() {
  return {
        ConvCase{"Odd7x9", Shape{2, 3, 7, 9}, Shape{4, 3, 3, 3}, spec_of(1, 1, 0, 0)},
        ConvCase{"Batch1Pad1", Shape{1, 2, 6, 6}, Shape{3, 2, 3, 3}, spec_of(1, 1, 1, 1)},
        ConvCase{"Stride2Pad1", Shape{2, 3, 9, 7}, Shape{5, 3, 3, 3}, spec_of(2, 2, 1, 1)},
        ConvCase{"Dilation2", Shape{2, 2, 9, 8}, Shape{3, 2, 3, 3}, spec_of(1, 1, 1, 1, 2, 2)},
        ConvCase{"Groups2", Shape{2, 4, 6, 7}, Shape{6, 2, 3, 3}, spec_of(1, 1, 1, 0, 1, 1, 2)},
        ConvCase{"Depthwise", Shape{2, 3, 7, 6}, Shape{3, 1, 3, 3}, spec_of(1, 1, 1, 1, 1, 1, 3)},
        ConvCase{"DepthwiseMultiplier2", Shape{1, 3, 5, 6}, Shape{6, 1, 3, 3},
                 spec_of(2, 1, 1, 1, 1, 1, 3)},
        ConvCase{"NoBias", Shape{2, 3, 5, 5}, Shape{2, 3, 3, 3}, spec_of(1, 1, 0, 0), false},
        ConvCase{"Kernel5Stride2Pad2", Shape{2, 2, 11, 10}, Shape{3, 2, 5, 5}, spec_of(2, 2, 2, 2)},
        ConvCase{"StrideLargerThanKernel", Shape{1, 2, 8, 9}, Shape{2, 2, 2, 2},
                 spec_of(3, 3, 0, 1)},
        ConvCase{"NonSquare3x5", Shape{2, 2, 7, 9}, Shape{3, 2, 3, 5}, spec_of(1, 2, 1, 2)},
        ConvCase{"MixedStrideDilation", Shape{2, 2, 8, 9}, Shape{2, 2, 3, 2},
                 spec_of(2, 1, 0, 1, 1, 2)},
        ConvCase{"Pointwise1x1", Shape{2, 5, 4, 3}, Shape{4, 5, 1, 1}, spec_of(1, 1, 0, 0)},
        ConvCase{"Pointwise1x1Groups", Shape{2, 4, 3, 5}, Shape{6, 2, 1, 1},
                 spec_of(1, 1, 0, 0, 1, 1, 2), false},
        ConvCase{"OneByOneStride2", Shape{2, 3, 5, 6}, Shape{2, 3, 1, 1}, spec_of(2, 2, 0, 0)},
        ConvCase{"OneByOnePadded", Shape{1, 2, 3, 3}, Shape{2, 2, 1, 1}, spec_of(1, 1, 1, 1)},
        ConvCase{"KernelCoversPaddedInput", Shape{2, 2, 3, 4}, Shape{2, 2, 5, 6},
                 spec_of(1, 1, 1, 1)},
        ConvCase{"LeNetConv1Like", Shape{3, 1, 12, 12}, Shape{6, 1, 5, 5}, spec_of(1, 1, 0, 0)},
        // Unpadded, stride 1, undilated: the host's dense im2col, with channels and groups.
        ConvCase{"LeNetConv2", Shape{2, 6, 12, 12}, Shape{16, 6, 5, 5}, spec_of(1, 1, 0, 0)},
        ConvCase{"DenseGroups2NonSquare", Shape{2, 4, 7, 6}, Shape{4, 2, 3, 2},
                 spec_of(1, 1, 0, 0, 1, 1, 2)},
        // Depthwise (the direct loops, kernels/cpu/depthwise_conv2d.cpp): MobileNetV2's 3x3 and
        // EfficientNet's 5x5, stride 1 and 2, odd planes, dilation, a multiplier, no bias.
        ConvCase{"Depthwise3x3Stride2Odd", Shape{2, 5, 9, 7}, Shape{5, 1, 3, 3},
                 spec_of(2, 2, 1, 1, 1, 1, 5)},
        ConvCase{"Depthwise5x5Pad2", Shape{2, 4, 8, 9}, Shape{4, 1, 5, 5},
                 spec_of(1, 1, 2, 2, 1, 1, 4)},
        ConvCase{"Depthwise5x5Stride2Pad2", Shape{1, 3, 11, 10}, Shape{3, 1, 5, 5},
                 spec_of(2, 2, 2, 2, 1, 1, 3), false},
        ConvCase{"DepthwiseDilation2Multiplier3", Shape{2, 2, 9, 8}, Shape{6, 1, 3, 3},
                 spec_of(1, 2, 2, 1, 2, 2, 2)},
        ConvCase{"DepthwiseStrideLargerThanKernel", Shape{2, 3, 8, 9}, Shape{3, 1, 2, 2},
                 spec_of(3, 3, 0, 1, 1, 1, 3)},
        // Stride 1 runs on zero-padded planes (one long loop per tap): dilation, a multiplier,
        // unequal padding, no padding, a non-square kernel.
        ConvCase{"DepthwiseStride1Dilation2Multiplier3", Shape{2, 2, 9, 8}, Shape{6, 1, 3, 3},
                 spec_of(1, 1, 2, 1, 2, 2, 2)},
        ConvCase{"DepthwiseStride1Unpadded3x5", Shape{2, 3, 7, 9}, Shape{3, 1, 3, 5},
                 spec_of(1, 1, 0, 0, 1, 1, 3), false}};
}

std::string case_name(const ::testing::TestParamInfo<ConvCase>& p) { return p.param.name; }

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dTest, ::testing::ValuesIn(conv_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(OneDnn, Conv2dTest, ::testing::ValuesIn(on_onednn(conv_cases())),
                         case_name);

// The adjoints of a 3x3, stride-1, pad-1 convolution of x [N, C, H, W] with K filters, in
// float64: the sums of dy * (x or w) over every pair the forward multiplies.
struct Adjoints {
  std::vector<double> dx, dw, db;
};
Adjoints adjoints_3x3_pad1(const std::vector<double>& xd, const Shape& xs,
                           const std::vector<double>& wd, int64_t K,
                           const std::vector<double>& dyd) {
  const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  Adjoints a{std::vector<double>(xd.size()), std::vector<double>(wd.size()),
             std::vector<double>(static_cast<size_t>(K))};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oh = 0; oh < H; ++oh)
        for (int64_t ow = 0; ow < W; ++ow) {
          const double g = dyd[static_cast<size_t>(((n * K + k) * H + oh) * W + ow)];
          a.db[static_cast<size_t>(k)] += g;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < 3; ++r)
              for (int64_t s = 0; s < 3; ++s) {
                const int64_t ih = oh - 1 + r, iw = ow - 1 + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const size_t xi = static_cast<size_t>(((n * C + c) * H + ih) * W + iw);
                const size_t wi = static_cast<size_t>(((k * C + c) * 3 + r) * 3 + s);
                a.dx[xi] += g * wd[wi];
                a.dw[wi] += g * xd[xi];
              }
        }
  return a;
}

// A batch big enough that one parallel slot holds several images (the column matrix of one
// image here is 288 x 576 floats, so the kernel keeps fewer slots than images), checked
// against direct float64 loops for every pass.
TEST(Conv2d, LargeBatchMatchesDirectLoops) {
  std::mt19937_64 gen(test::test_seed() + 4);
  Context ctx;
  const Shape xs{40, 32, 24, 24}, ws{8, 32, 3, 3};
  const Conv2dSpec spec = spec_of(1, 1, 1, 1);
  const Shape ys = reference_output_shape(xs, ws, spec);
  const Tensor x = test::random_tensor(xs, gen), w = test::random_tensor(ws, gen);
  const Tensor b = test::random_tensor(Shape{8}, gen), dy = test::random_tensor(ys, gen);
  Tensor y = Tensor::empty(ys), dx = Tensor::empty(xs), dw = Tensor::empty(ws);
  Tensor db = Tensor::empty(Shape{8});
  ops::conv2d_forward(ctx, x, w, &b, y, spec);
  ops::conv2d_backward_data(ctx, dy, w, dx, spec);
  ops::conv2d_backward_weight(ctx, x, dy, dw, spec);
  ops::conv2d_backward_bias(ctx, dy, db);

  const auto xd = test::to_double(x), wd = test::to_double(w), bd = test::to_double(b);
  const auto dyd = test::to_double(dy);
  EXPECT_TRUE(test::all_close(conv2d_reference(xd, xs, wd, ws, &bd, spec), y, 1e-5, 3e-5));

  const Adjoints ref = adjoints_3x3_pad1(xd, xs, wd, ws[0], dyd);
  EXPECT_TRUE(test::all_close(ref.dx, dx, 1e-5, 1e-5));
  // dw sums 23040 products whose running sums reach ~50: f32 rounding alone is ~3e-5.
  EXPECT_TRUE(test::all_close(ref.dw, dw, 1e-5, 3e-4));
  EXPECT_TRUE(test::all_close(ref.db, db, 1e-5, 1e-5));
}

// oneDNN's two algorithms on a geometry where its heuristic takes Winograd F(4x4, 3x3) on an
// AVX-512 CPU (ResNet-20's second stage: 3x3, stride 1, 32 channels in and out, 16x16, a batch of
// 32): every pass against float64 loops. Direct must not run Winograd.
class OneDnnAlgorithmGuard {
 public:
  explicit OneDnnAlgorithmGuard(cpu::onednn::ConvAlgorithm a)
      : saved_(cpu::onednn::conv_algorithm()) {
    cpu::onednn::set_conv_algorithm(a);
  }
  ~OneDnnAlgorithmGuard() { cpu::onednn::set_conv_algorithm(saved_); }

 private:
  cpu::onednn::ConvAlgorithm saved_;
};

TEST(Conv2dOneDnn, WinogradAndDirectMatchFloat64) {
  if (!cpu::onednn::built()) GTEST_SKIP() << "this build has no oneDNN (libdnnl-dev)";
  using cpu::onednn::ConvAlgorithm;
  using cpu::onednn::ConvPass;
  std::mt19937_64 gen(test::test_seed() + 6);
  const int64_t N = 32, C = 32, H = 16, W = 16, K = 32;
  const Shape xs{N, C, H, W}, ws{K, C, 3, 3};
  const Conv2dSpec spec = spec_of(1, 1, 1, 1);
  const Shape ys = reference_output_shape(xs, ws, spec);
  const Tensor x = test::random_tensor(xs, gen), w = test::random_tensor(ws, gen);
  const Tensor b = test::random_tensor(Shape{K}, gen), dy = test::random_tensor(ys, gen);
  const auto xd = test::to_double(x), wd = test::to_double(w), bd = test::to_double(b);
  const auto dyd = test::to_double(dy);
  const std::vector<double> y_ref = conv2d_reference(xd, xs, wd, ws, &bd, spec);
  const Adjoints ref = adjoints_3x3_pad1(xd, xs, wd, K, dyd);
  const kernels::Conv2dGeometry g = ops::conv2d_geometry(xs, ws, spec);
  for (ConvAlgorithm algorithm : {ConvAlgorithm::Direct, ConvAlgorithm::Auto}) {
    const bool direct = algorithm == ConvAlgorithm::Direct;
    SCOPED_TRACE(direct ? "direct" : "auto");
    const OneDnnAlgorithmGuard guard(algorithm);
    // Which passes run Winograd: oneDNN decides per pass.
    bool winograd[3] = {false, false, false};
    const ConvPass passes[3] = {ConvPass::Forward, ConvPass::BackwardData,
                                ConvPass::BackwardWeight};
    for (int k = 0; k < 3; ++k) {
      const std::string impl = cpu::onednn::implementation(g, passes[k]);
      SCOPED_TRACE(impl);
      winograd[k] = impl.find("wino") != std::string::npos;
      if (direct) {
        EXPECT_FALSE(winograd[k]);
      }
    }
    Context ctx;
    MathOptions math;
    math.cpu_onednn = true;
    ctx.set_math(math);
    Tensor y = Tensor::empty(ys), dx = Tensor::empty(xs), dw = Tensor::empty(ws);
    ops::conv2d_forward(ctx, x, w, &b, y, spec);
    ops::conv2d_backward_data(ctx, dy, w, dx, spec);
    ops::conv2d_backward_weight(ctx, x, dy, dw, spec);
    // Direct: f32 rounding of 288-term sums (dw: 8,192-term). Winograd's transforms round more
    // (values here are O(1) to O(10), dw's O(100)).
    EXPECT_TRUE(test::all_close(y_ref, y, 1e-5, winograd[0] ? 1e-4 : 1e-5));
    EXPECT_TRUE(test::all_close(ref.dx, dx, 1e-5, winograd[1] ? 1e-4 : 1e-5));
    EXPECT_TRUE(test::all_close(ref.dw, dw, 1e-5, winograd[2] ? 1e-3 : 3e-4));
    if (!direct && !winograd[0] && !winograd[1] && !winograd[2])
      GTEST_SKIP() << "oneDNN chose Winograd for no pass here (" << cpu::onednn::describe()
                   << "; it has it for AVX-512 only): direct was checked, Winograd was not";
  }
}

// Results are bit-identical with 1 and 2 threads, on shapes with many images per call.
class Conv2dThreadsTest : public ConvFixture<ConvCase> {};

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST_P(Conv2dThreadsTest, OneAndTwoThreadsAgreeBitwise) {
  const uint64_t seed = test::test_seed() + 5;
  cpu::set_num_threads(1);
  const ConvRun one = run_all(GetParam(), seed);
  cpu::set_num_threads(2);
  const ConvRun two = run_all(GetParam(), seed);
  ASSERT_TRUE(bitwise_equal(one.x, two.x));  // same inputs
  EXPECT_TRUE(bitwise_equal(one.y, two.y)) << "forward";
  EXPECT_TRUE(bitwise_equal(one.dx, two.dx)) << "backward_data";
  EXPECT_TRUE(bitwise_equal(one.dw, two.dw)) << "backward_weight";
  EXPECT_TRUE(bitwise_equal(one.db, two.db)) << "backward_bias";
}

std::vector<ConvCase> thread_cases() {
  return {ConvCase{"Groups2Pad1", Shape{9, 6, 10, 11}, Shape{8, 3, 3, 3},
                   spec_of(1, 1, 1, 1, 1, 1, 2)},
          ConvCase{"SeveralImagesPerSlot", Shape{70, 32, 24, 24}, Shape{8, 32, 3, 3},
                   spec_of(1, 1, 1, 1)},
          ConvCase{"Pointwise", Shape{11, 8, 5, 5}, Shape{4, 8, 1, 1}, spec_of(1, 1, 0, 0)},
          ConvCase{"Depthwise", Shape{6, 32, 16, 16}, Shape{32, 1, 3, 3},
                   spec_of(1, 1, 1, 1, 1, 1, 32)}};
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dThreadsTest, ::testing::ValuesIn(thread_cases()),
                         case_name);
INSTANTIATE_TEST_SUITE_P(OneDnn, Conv2dThreadsTest,
                         ::testing::ValuesIn(on_onednn(thread_cases())), case_name);

// Runs `call`, expects a kestrel::Error whose message contains `text`.
void expect_error(const std::function<void()>& call, const std::string& text) {
  try {
    call();
    ADD_FAILURE() << "expected kestrel::Error containing: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Conv2dErrors, ChannelMismatch) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 8, 8}), w = Tensor::zeros(Shape{5, 4, 3, 3});
  Tensor y = Tensor::zeros(Shape{2, 5, 6, 6});
  expect_error([&] { ops::conv2d_forward(ctx, x, w, nullptr, y, Conv2dSpec{}); },
               "conv2d: input has 3 channels but weight expects 4 (input [2, 3, 8, 8], weight "
               "[5, 4, 3, 3], groups 1)");
  Tensor dw = Tensor::zeros(Shape{5, 4, 3, 3});
  expect_error([&] { ops::conv2d_backward_weight(ctx, x, y, dw, Conv2dSpec{}); },
               "conv2d_backward_weight: input has 3 channels but weight expects 4");
}

TEST(Conv2dErrors, GroupsMustDivideInputChannels) {
  Conv2dSpec spec;
  spec.groups = 4;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{2, 6, 8, 8}, Shape{4, 2, 3, 3}, spec);
      },
      "conv2d: groups 4 does not divide the 6 input channels (input [2, 6, 8, 8], "
      "weight [4, 2, 3, 3])");
}

TEST(Conv2dErrors, GroupsMustDivideOutputChannels) {
  Conv2dSpec spec;
  spec.groups = 4;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{2, 4, 8, 8}, Shape{6, 1, 3, 3}, spec);
      },
      "conv2d: groups 4 does not divide the 6 output channels (input [2, 4, 8, 8], "
      "weight [6, 1, 3, 3])");
}

TEST(Conv2dErrors, KernelLargerThanPaddedInput) {
  Conv2dSpec spec;
  spec.dilation_h = spec.dilation_w = 2;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 1, 4, 6}, Shape{1, 1, 3, 3}, spec);
      },
      "conv2d: kernel 3x3 with dilation (2, 2) spans 5x5, more than the padded input "
      "4x6 (input [1, 1, 4, 6], weight [1, 1, 3, 3], padding (0, 0))");
  spec = Conv2dSpec{};
  spec.pad_w = 1;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 1, 5, 3}, Shape{1, 1, 3, 6}, spec);
      },
      "spans 3x6, more than the padded input 5x5");
}

TEST(Conv2dErrors, WrongOutputShape) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 8, 8}), w = Tensor::zeros(Shape{5, 3, 3, 3});
  Tensor y = Tensor::zeros(Shape{2, 5, 5, 5});
  expect_error([&] { ops::conv2d_forward(ctx, x, w, nullptr, y, Conv2dSpec{}); },
               "conv2d: output has shape [2, 5, 5, 5], expected [2, 5, 6, 6]");
  Tensor dx = Tensor::zeros(Shape{2, 3, 8, 8});
  expect_error([&] { ops::conv2d_backward_data(ctx, y, w, dx, Conv2dSpec{}); },
               "conv2d_backward_data: grad_output has shape [2, 5, 5, 5], expected [2, 5, 6, 6]");
  Tensor dw = Tensor::zeros(Shape{5, 3, 3, 3});
  expect_error([&] { ops::conv2d_backward_weight(ctx, x, y, dw, Conv2dSpec{}); },
               "conv2d_backward_weight: grad_output has shape [2, 5, 5, 5], expected "
               "[2, 5, 6, 6]");
}

TEST(Conv2dErrors, BiasLength) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{2, 3, 8, 8}), w = Tensor::zeros(Shape{5, 3, 3, 3});
  const Tensor b = Tensor::zeros(Shape{4});
  Tensor y = Tensor::zeros(Shape{2, 5, 6, 6});
  expect_error([&] { ops::conv2d_forward(ctx, x, w, &b, y, Conv2dSpec{}); },
               "conv2d: bias has 4 elements but weight has 5 output channels (bias [4], weight "
               "[5, 3, 3, 3])");
  Tensor db = Tensor::zeros(Shape{4});
  expect_error([&] { ops::conv2d_backward_bias(ctx, y, db); },
               "conv2d_backward_bias: grad_bias has shape [4], expected [5]");
}

TEST(Conv2dErrors, RankAndSpec) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{3, 8, 8}), w = Tensor::zeros(Shape{5, 3, 3, 3});
  Tensor y = Tensor::zeros(Shape{1, 5, 6, 6});
  expect_error([&] { ops::conv2d_forward(ctx, x, w, nullptr, y, Conv2dSpec{}); },
               "conv2d: input must have 4 dimensions, got [3, 8, 8]");
  Conv2dSpec spec;
  spec.stride_w = 0;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 3, 8, 8}, Shape{5, 3, 3, 3}, spec);
      },
      "conv2d: stride must be positive, got (1, 0)");
  spec = Conv2dSpec{};
  spec.pad_h = -1;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 3, 8, 8}, Shape{5, 3, 3, 3}, spec);
      },
      "conv2d: padding must be non-negative, got (-1, 0)");
  spec = Conv2dSpec{};
  spec.dilation_h = 0;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 3, 8, 8}, Shape{5, 3, 3, 3}, spec);
      },
      "conv2d: dilation must be positive, got (0, 1)");
  spec = Conv2dSpec{};
  spec.groups = 0;
  expect_error(
      [&] {
        ops::conv2d_output_shape(Shape{1, 3, 8, 8}, Shape{5, 3, 3, 3}, spec);
      },
      "conv2d: groups must be positive, got 0");
}

TEST(Conv2d, EmptyBatchZeroesWeightAndBiasGradients) {
  Context ctx;
  const Tensor x = Tensor::zeros(Shape{0, 3, 8, 8}), dy = Tensor::zeros(Shape{0, 5, 6, 6});
  Tensor dw = Tensor::empty(Shape{5, 3, 3, 3}), db = Tensor::empty(Shape{5});
  dw.fill(7.0f), db.fill(7.0f);
  ops::conv2d_backward_weight(ctx, x, dy, dw, Conv2dSpec{});
  ops::conv2d_backward_bias(ctx, dy, db);
  EXPECT_TRUE(test::all_close(std::vector<double>(135, 0.0), dw, 0.0, 0.0));
  EXPECT_TRUE(test::all_close(std::vector<double>(5, 0.0), db, 0.0, 0.0));
}

}  // namespace
}  // namespace kestrel
