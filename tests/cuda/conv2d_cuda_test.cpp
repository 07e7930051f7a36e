// cuDNN convolutions against the CPU backend, forward and all three backward passes, in strict
// FP32 (tolerance: rtol 1e-4, atol 1e-4; the sums run in another order) and in TF32 (relative
// L2 error under 3e-3), in bf16 (NCHW and NHWC operands) against the CPU's bf16 emulation
// (both round operands and results to bf16; the f32 sums run in another order, so a result
// may land on the neighbouring bf16: within 1 bf16 step, rtol 2^-7), plus the deterministic
// mode giving identical bits on a rerun.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "engine/ops/conv2d.hpp"
#include "kernels/cuda/conv_algo_cache.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

struct ConvCase {
  Shape input, weight;
  ops::Conv2dSpec spec;
  bool bias;
};

// "x8x1x28x28_w6x1x5x5_s1p0d1g1_bias": the case in test names and failure messages.
std::string case_name(const ConvCase& c) {
  return fmt::format("x{}_w{}_s{}p{}d{}g{}{}", test::name_of(c.input), test::name_of(c.weight),
                     c.spec.stride_h, c.spec.pad_h, c.spec.dilation_h, c.spec.groups,
                     c.bias ? "_bias" : "");
}
void PrintTo(const ConvCase& c, std::ostream* os) { *os << case_name(c); }

struct ConvResults {
  Tensor y, dx, dw, db;
};

ConvResults run(const Context& ctx, const ConvCase& c, const Tensor& x, const Tensor& w,
                const Tensor& b, const Tensor& dy) {
  const Device d = ctx.device();
  const Shape out = ops::conv2d_output_shape(c.input, c.weight, c.spec);
  ConvResults r{poisoned(out, d), poisoned(c.input, d), poisoned(c.weight, d),
                poisoned(Shape{c.weight[0]}, d)};
  const Tensor xd = x.to(d), wd = w.to(d), bd = b.to(d), dyd = dy.to(d);
  ops::conv2d_forward(ctx, xd, wd, c.bias ? &bd : nullptr, r.y, c.spec);
  ops::conv2d_backward_data(ctx, dyd, wd, r.dx, c.spec);
  ops::conv2d_backward_weight(ctx, xd, dyd, r.dw, c.spec);
  ops::conv2d_backward_bias(ctx, dyd, r.db);
  return r;
}

class CudaConv2d : public ::testing::TestWithParam<ConvCase> {
 protected:
  void SetUp() override {
    KESTREL_SKIP_WITHOUT_GPU();
    const ConvCase& c = GetParam();
    std::mt19937_64 gen(test::test_seed());
    x = test::random_tensor(c.input, gen);
    w = test::random_tensor(c.weight, gen, -0.3f, 0.3f);
    b = test::random_tensor(Shape{c.weight[0]}, gen);
    dy = test::random_tensor(ops::conv2d_output_shape(c.input, c.weight, c.spec), gen);
    expected = run(Context(), c, x, w, b, dy);
  }
  Tensor x, w, b, dy;
  ConvResults expected;
};

TEST_P(CudaConv2d, Fp32MatchesCpu) {
  Context gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = false});
  const ConvResults got = run(gpu, GetParam(), x, w, b, dy);
  EXPECT_TRUE(test::gpu_matches_cpu(expected.y, got.y, 1e-4, 1e-4)) << "forward";
  EXPECT_TRUE(test::gpu_matches_cpu(expected.dx, got.dx, 1e-4, 1e-4)) << "backward data";
  EXPECT_TRUE(test::gpu_matches_cpu(expected.dw, got.dw, 1e-4, 1e-3)) << "backward weight";
  EXPECT_TRUE(test::gpu_matches_cpu(expected.db, got.db, 1e-4, 1e-3)) << "backward bias";
}

TEST_P(CudaConv2d, Tf32IsCloseToCpu) {
  Context gpu(gpu0());
  gpu.set_math({.tf32 = true, .deterministic = false});
  const ConvResults got = run(gpu, GetParam(), x, w, b, dy);
  EXPECT_LT(test::relative_l2_error(expected.y, got.y), 3e-3) << "forward";
  EXPECT_LT(test::relative_l2_error(expected.dx, got.dx), 3e-3) << "backward data";
  EXPECT_LT(test::relative_l2_error(expected.dw, got.dw), 3e-3) << "backward weight";
}

TEST_P(CudaConv2d, Bf16MatchesTheCpuEmulationInBothLayouts) {
  Context cpu;
  cpu.set_math({.bf16 = true});
  const ConvResults emulated = run(cpu, GetParam(), x, w, b, dy);
  for (bool channels_last : {false, true}) {
    SCOPED_TRACE(channels_last ? "NHWC" : "NCHW");
    Context gpu(gpu0());
    gpu.set_math({.bf16 = true, .channels_last = channels_last});
    const ConvResults got = run(gpu, GetParam(), x, w, b, dy);
    EXPECT_TRUE(test::gpu_matches_cpu(emulated.y, got.y, 1.0 / 128, 1e-3)) << "forward";
    EXPECT_TRUE(test::gpu_matches_cpu(emulated.dx, got.dx, 1.0 / 128, 1e-3)) << "backward data";
    EXPECT_TRUE(test::gpu_matches_cpu(emulated.dw, got.dw, 1.0 / 128, 1e-2)) << "backward weight";
    EXPECT_TRUE(test::gpu_matches_cpu(emulated.db, got.db, 1e-4, 1e-3)) << "backward bias";
    EXPECT_LT(test::relative_l2_error(emulated.y, got.y), 2e-3) << "forward";
    EXPECT_LT(test::relative_l2_error(emulated.dw, got.dw), 2e-3) << "backward weight";
  }
}

TEST_P(CudaConv2d, DeterministicModeRepeatsBitForBit) {
  Context gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  const ConvResults a = run(gpu, GetParam(), x, w, b, dy);
  const ConvResults again = run(gpu, GetParam(), x, w, b, dy);
  EXPECT_EQ(a.y.to_vector(), again.y.to_vector());
  EXPECT_EQ(a.dx.to_vector(), again.dx.to_vector());
  EXPECT_EQ(a.dw.to_vector(), again.dw.to_vector());
  EXPECT_TRUE(test::gpu_matches_cpu(expected.dw, a.dw, 1e-4, 1e-3));
}

ops::Conv2dSpec spec(int stride, int pad, int dilation = 1, int groups = 1) {
  ops::Conv2dSpec s;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.dilation_h = s.dilation_w = dilation;
  s.groups = groups;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaConv2d,
    ::testing::Values(
        ConvCase{Shape{8, 1, 28, 28}, Shape{6, 1, 5, 5}, spec(1, 0), true},   // LeNet c1
        ConvCase{Shape{8, 6, 12, 12}, Shape{16, 6, 5, 5}, spec(1, 0), true},  // LeNet c2
        ConvCase{Shape{4, 3, 32, 32}, Shape{64, 3, 3, 3}, spec(1, 1), true},  // AlexNet c1
        ConvCase{Shape{2, 64, 15, 15}, Shape{192, 64, 5, 5}, spec(1, 2), true},
        ConvCase{Shape{1, 4, 7, 9}, Shape{6, 2, 3, 3}, spec(2, 1, 1, 2), false},
        ConvCase{Shape{3, 5, 11, 11}, Shape{5, 1, 3, 3}, spec(1, 2, 2, 5), true}),
    [](const ::testing::TestParamInfo<ConvCase>& param) { return case_name(param.param); });

TEST(CudaConv2dAlgoCache, SecondCallReusesTheTunedAlgorithm) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 7);
  Context gpu(gpu0());
  const Shape xs{2, 3, 17, 17}, ws{5, 3, 3, 3};
  const Tensor x = test::random_tensor(xs, gen).to(gpu0()),
               w = test::random_tensor(ws, gen).to(gpu0());
  Tensor y = Tensor::empty(ops::conv2d_output_shape(xs, ws, {}), DType::F32, gpu0());
  const size_t before = cuda::conv_algo_cache().size();
  ops::conv2d_forward(gpu, x, w, nullptr, y, {});
  const size_t after_first = cuda::conv_algo_cache().size();
  ops::conv2d_forward(gpu, x, w, nullptr, y, {});
  EXPECT_EQ(after_first, before + 1);
  EXPECT_EQ(cuda::conv_algo_cache().size(), after_first);
}

}  // namespace
}  // namespace kestrel
