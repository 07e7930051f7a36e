// Linear (cuBLAS/cuBLASLt), ReLU, dropout, softmax-cross-entropy and the classification counts
// on the GPU against the CPU backend on the same random inputs, outputs poisoned first.
// Tolerances: FP32 products rtol 1e-4 / atol 1e-4 (another summation order); TF32 relative L2
// error under 3e-3; bf16 against the CPU's bf16 emulation (the same rounded operands, f32
// sums in another order) rtol 1e-4 / atol 1e-4; element functors 1e-6 relative; dropout masks
// bit-equal.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "engine/ops/activation.hpp"
#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/dropout.hpp"
#include "engine/ops/linear.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::poisoned;

struct LinearCase {
  int64_t n, in, out;
};

std::string case_name(const LinearCase& c) {
  return fmt::format("n{}_in{}_out{}", c.n, c.in, c.out);
}
void PrintTo(const LinearCase& c, std::ostream* os) { *os << case_name(c); }

class CudaLinear : public ::testing::TestWithParam<LinearCase> {};

TEST_P(CudaLinear, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const auto [n, in, out] = GetParam();
  std::mt19937_64 gen(test::test_seed());
  const Tensor x = test::random_tensor(Shape{n, in}, gen),
               w = test::random_tensor(Shape{out, in}, gen, -0.1f, 0.1f);
  const Tensor b = test::random_tensor(Shape{out}, gen),
               dy = test::random_tensor(Shape{n, out}, gen);
  for (const char* precision : {"fp32", "tf32", "bf16"}) {
    const bool tf32 = std::string(precision) == "tf32", bf16 = std::string(precision) == "bf16";
    for (bool relu : {false, true}) {
      Context cpu, gpu(gpu0());
      cpu.set_math({.bf16 = bf16});
      gpu.set_math({.tf32 = tf32, .bf16 = bf16, .deterministic = false});
      Tensor y = Tensor::empty(Shape{n, out}), dx = Tensor::empty(Shape{n, in});
      Tensor dw = Tensor::empty(Shape{out, in}), db = Tensor::empty(Shape{out});
      ops::linear_forward(cpu, x, w, &b, y, relu);
      ops::linear_backward_data(cpu, dy, w, dx);
      ops::linear_backward_weight(cpu, x, dy, dw);
      ops::linear_backward_bias(cpu, dy, db);

      const Tensor gx = x.to(gpu0()), gw = w.to(gpu0()), gb = b.to(gpu0()), gdy = dy.to(gpu0());
      Tensor gy = poisoned(Shape{n, out}, gpu0()), gdx = poisoned(Shape{n, in}, gpu0());
      Tensor gdw = poisoned(Shape{out, in}, gpu0()), gdb = poisoned(Shape{out}, gpu0());
      ops::linear_forward(gpu, gx, gw, &gb, gy, relu);
      ops::linear_backward_data(gpu, gdy, gw, gdx);
      ops::linear_backward_weight(gpu, gx, gdy, gdw);
      ops::linear_backward_bias(gpu, gdy, gdb);
      SCOPED_TRACE(::testing::Message() << precision << ", relu " << relu);
      if (!tf32) {
        EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 1e-4, 1e-4));
        EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 1e-4, 1e-4));
        EXPECT_TRUE(test::gpu_matches_cpu(dw, gdw, 1e-4, 1e-4));
      } else {
        EXPECT_LT(test::relative_l2_error(y, gy), 3e-3);
        EXPECT_LT(test::relative_l2_error(dx, gdx), 3e-3);
        EXPECT_LT(test::relative_l2_error(dw, gdw), 3e-3);
      }
      EXPECT_TRUE(test::gpu_matches_cpu(db, gdb, 1e-5, 1e-6));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaLinear,
                         ::testing::Values(LinearCase{1, 7, 5}, LinearCase{5, 1, 3},
                                           LinearCase{6, 9, 1}, LinearCase{64, 256, 120},
                                           LinearCase{33, 84, 10}, LinearCase{128, 9216, 4096}),
                         [](const ::testing::TestParamInfo<LinearCase>& param) {
                           return case_name(param.param);
                         });

TEST(CudaRelu, ForwardBackwardMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context cpu, gpu(gpu0());
  const Shape s{3, 17, 9, 11};
  const Tensor x = test::random_tensor(s, gen), dy = test::random_tensor(s, gen);
  Tensor y = Tensor::empty(s), dx = Tensor::empty(s);
  ops::relu_forward(cpu, x, y);
  ops::relu_backward(cpu, y, dy, dx);
  Tensor gy = poisoned(s, gpu0()), gdx = poisoned(s, gpu0());
  ops::relu_forward(gpu, x.to(gpu0()), gy);
  ops::relu_backward(gpu, gy, dy.to(gpu0()), gdx);
  EXPECT_TRUE(test::gpu_matches_cpu(y, gy, 0.0, 0.0));
  EXPECT_TRUE(test::gpu_matches_cpu(dx, gdx, 0.0, 0.0));
}

TEST(CudaDropout, MasksAreBitEqualToTheCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 2);
  Context cpu, gpu(gpu0());
  const Shape s{128, 4096};
  const Tensor x = test::random_tensor(s, gen), dy = test::random_tensor(s, gen);
  for (float p : {0.1f, 0.5f}) {
    const ops::DropoutSpec spec{p, 1234567, 42};
    Tensor y = Tensor::empty(s), dx = Tensor::empty(s);
    ops::dropout_forward(cpu, x, y, spec, true);
    ops::dropout_backward(cpu, dy, dx, spec, true);
    Tensor gy = poisoned(s, gpu0()), gdx = poisoned(s, gpu0());
    ops::dropout_forward(gpu, x.to(gpu0()), gy, spec, true);
    ops::dropout_backward(gpu, dy.to(gpu0()), gdx, spec, true);
    EXPECT_EQ(y.to_vector(), gy.to_vector()) << "p = " << p;
    EXPECT_EQ(dx.to_vector(), gdx.to_vector()) << "p = " << p;
  }
}

TEST(CudaCrossEntropy, LossAndGradientMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 3);
  Context cpu, gpu(gpu0());
  for (float smoothing : {0.0f, 0.1f}) {
    const int64_t n = 257, c = 10;
    const Tensor logits = test::random_tensor(Shape{n, c}, gen, -8.0f, 8.0f);
    const Tensor labels = test::random_labels(n, static_cast<int32_t>(c), gen);
    Tensor d = Tensor::empty(Shape{n, c});
    const float loss = ops::cross_entropy_forward_backward(cpu, logits, labels, &d, {smoothing});
    Tensor gd = poisoned(Shape{n, c}, gpu0());
    const float gloss = ops::cross_entropy_forward_backward(gpu, logits.to(gpu0()),
                                                            labels.to(gpu0()), &gd, {smoothing});
    EXPECT_NEAR(gloss, loss, 1e-6 * std::abs(loss) + 1e-7);
    EXPECT_TRUE(test::gpu_matches_cpu(d, gd, 1e-5, 1e-8));
  }
}

TEST(CudaCrossEntropy, OutOfRangeLabelOnTheGpuIsAClearError) {
  KESTREL_SKIP_WITHOUT_GPU();
  Context gpu(gpu0());
  std::mt19937_64 gen(test::test_seed() + 4);
  const Tensor logits = test::random_tensor(Shape{4, 10}, gen).to(gpu0());
  const std::vector<int32_t> bad{1, 2, 10, 3};
  const Tensor labels = Tensor::from_vector(Shape{4}, std::span<const int32_t>(bad)).to(gpu0());
  try {
    ops::cross_entropy_forward_backward(gpu, logits, labels, nullptr, {});
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label 10 in row 2 is out of range"), std::string::npos)
        << e.what();
  }
}

TEST(CudaClassification, ArgmaxAndCountsMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 5);
  Context cpu, gpu(gpu0());
  const int64_t n = 1000, c = 10;
  const Tensor logits = test::random_tensor(Shape{n, c}, gen);
  const Tensor labels = test::random_labels(n, static_cast<int32_t>(c), gen);
  const Tensor gl = logits.to(gpu0()), glab = labels.to(gpu0());
  Tensor am = Tensor::empty(Shape{n}, DType::I32), gam = poisoned(Shape{n}, gpu0(), DType::I32);
  ops::argmax_rows(cpu, logits, am);
  ops::argmax_rows(gpu, gl, gam);
  EXPECT_TRUE(test::gpu_equals_cpu_ints(am, gam));
  EXPECT_EQ(ops::count_correct(gpu, gl, glab), ops::count_correct(cpu, logits, labels));
  EXPECT_EQ(ops::count_correct_topk(gpu, gl, glab, 5),
            ops::count_correct_topk(cpu, logits, labels, 5));
}

}  // namespace
}  // namespace kestrel

#include "engine/ops/grad_norm.hpp"

namespace kestrel {
namespace {

TEST(CudaGradNorm, NormAndClipMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 6);
  Context cpu, gpu(test::gpu0());
  Tensor g = test::random_tensor(Shape{57023306 / 16}, gen);
  Tensor gg = g.to(test::gpu0());
  const double n_cpu = ops::clip_grad_norm(cpu, g, 5.0);
  const double n_gpu = ops::clip_grad_norm(gpu, gg, 5.0);
  EXPECT_NEAR(n_gpu, n_cpu, 1e-12 * n_cpu);
  EXPECT_TRUE(test::gpu_matches_cpu(g, gg, 1e-6, 0.0));
  EXPECT_EQ(ops::l2_norm(gpu, gg), ops::l2_norm(gpu, gg)) << "GPU norm is not deterministic";
}

}  // namespace
}  // namespace kestrel
