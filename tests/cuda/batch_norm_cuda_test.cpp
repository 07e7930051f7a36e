// batch_norm on the GPU against the CPU backend on the same inputs, outputs poisoned first:
// training and evaluation forward (output, saved mean and inverse deviation, running mean and
// variance, num_batches_tracked), backward in both modes (dx, dweight, dbias), the running
// statistics over several steps (momentum 0.1 and None), a rerun giving the same bits, and a
// conv -> BN -> ReLU graph's step. Tolerance: the per-channel sums are double on both devices
// but added in different orders (one block per channel, a fixed tree, against the CPU's
// planes in order), so the f32 statistics may differ in the last bit; the per-element passes
// are the same rounded f32 expressions (kernels/common/batch_norm.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/ops/batch_norm.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;
using test::gpu_matches_cpu;
using test::poisoned;

int64_t count_of(const ops::BatchNormRunning& r) {
  return r.num_batches_tracked.to(Device::cpu()).data<int64_t>()[0];
}

ops::BatchNormRunning to_device(const ops::BatchNormRunning& r, Device d) {
  return {r.mean.to(d), r.var.to(d), r.num_batches_tracked.to(d)};
}

// One case on one device: inputs copied there, outputs poisoned.
struct BnRun {
  Tensor x, weight, bias, dy;
  ops::BatchNormRunning running;
  Tensor y, mean, invstd, dx, dweight, dbias;

  BnRun(const Tensor& hx, const Tensor& hw, const Tensor& hb, const Tensor& hdy,
        const ops::BatchNormRunning& hr, Device d)
      : x(hx.to(d)),
        weight(hw.to(d)),
        bias(hb.to(d)),
        dy(hdy.to(d)),
        running(to_device(hr, d)),
        y(poisoned(hx.shape(), d)),
        mean(poisoned(hw.shape(), d)),
        invstd(poisoned(hw.shape(), d)),
        dx(poisoned(hx.shape(), d)),
        dweight(poisoned(hw.shape(), d)),
        dbias(poisoned(hw.shape(), d)) {}

  void step(const Context& ctx, const ops::BatchNormSpec& spec) {
    ops::batch_norm_forward(ctx, x, weight, bias, running, y, mean, invstd, spec);
    ops::batch_norm_backward(ctx, x, dy, weight, mean, invstd, &dx, &dweight, &dbias, spec);
  }
};

void expect_matches(const BnRun& cpu, const BnRun& gpu) {
  EXPECT_TRUE(gpu_matches_cpu(cpu.mean, gpu.mean, 1e-6, 1e-7)) << "save_mean";
  EXPECT_TRUE(gpu_matches_cpu(cpu.invstd, gpu.invstd, 1e-6, 0.0)) << "save_invstd";
  EXPECT_TRUE(gpu_matches_cpu(cpu.y, gpu.y, 1e-5, 1e-5)) << "y";
  EXPECT_TRUE(gpu_matches_cpu(cpu.running.mean, gpu.running.mean, 1e-6, 1e-7)) << "running_mean";
  EXPECT_TRUE(gpu_matches_cpu(cpu.running.var, gpu.running.var, 1e-6, 1e-7)) << "running_var";
  EXPECT_EQ(count_of(cpu.running), count_of(gpu.running));
  EXPECT_TRUE(gpu_matches_cpu(cpu.dx, gpu.dx, 1e-4, 1e-5)) << "dx";
  EXPECT_TRUE(gpu_matches_cpu(cpu.dweight, gpu.dweight, 1e-5, 1e-4)) << "dweight";
  EXPECT_TRUE(gpu_matches_cpu(cpu.dbias, gpu.dbias, 1e-5, 1e-4)) << "dbias";
}

class CudaBatchNorm : public ::testing::TestWithParam<Shape> {};

TEST_P(CudaBatchNorm, TrainingAndEvalMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const Shape shape = GetParam();
  const Shape ch{shape[1]};
  std::mt19937_64 gen(test::test_seed() + 90);
  Context cpu, gpu(gpu0());
  const Tensor x = test::random_tensor(shape, gen, 1.0f, 4.0f),
               dy = test::random_tensor(shape, gen);
  const Tensor w = test::random_tensor(ch, gen, 0.5f, 1.5f), b = test::random_tensor(ch, gen);
  ops::BatchNormRunning r{test::random_tensor(ch, gen), test::random_tensor(ch, gen, 0.5f, 2.0f),
                          Tensor::zeros(Shape{}, DType::I64)};
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    BnRun on_cpu(x, w, b, dy, r, Device::cpu()), on_gpu(x, w, b, dy, r, gpu0());
    const ops::BatchNormSpec spec{training, 1e-5, 0.1};
    on_cpu.step(cpu, spec);
    on_gpu.step(gpu, spec);
    expect_matches(on_cpu, on_gpu);
    EXPECT_EQ(count_of(on_gpu.running), training ? 1 : 0);
    // A rerun on the GPU gives the same bits (fixed trees, no atomics).
    BnRun again(x, w, b, dy, r, gpu0());
    again.step(gpu, spec);
    for (const auto& [first, second] :
         {std::pair{on_gpu.y, again.y}, std::pair{on_gpu.dx, again.dx},
          std::pair{on_gpu.dweight, again.dweight},
          std::pair{on_gpu.running.var, again.running.var}})
      EXPECT_TRUE(test::same_bits(first, second));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaBatchNorm,
                         ::testing::Values(Shape{4, 3, 6, 5}, Shape{1, 3, 4, 5}, Shape{4, 1, 3, 3},
                                           Shape{3, 4, 5, 7}, Shape{6, 5, 1, 1}, Shape{7, 3},
                                           Shape{32, 16, 28, 28}, Shape{2, 64, 45, 33}),
                         [](const ::testing::TestParamInfo<Shape>& p) {
                           return test::name_of(p.param);
                         });

TEST(CudaBatchNormSteps, RunningStatisticsMatchCpuOverSteps) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 91);
  Context cpu, gpu(gpu0());
  const Shape shape{8, 6, 7, 9}, ch{6};
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
    SCOPED_TRACE(momentum ? "momentum 0.1" : "momentum None");
    const Tensor w = test::random_tensor(ch, gen, 0.5f, 1.5f), b = test::random_tensor(ch, gen);
    ops::BatchNormRunning r{Tensor::zeros(ch), Tensor::zeros(ch),
                            Tensor::zeros(Shape{}, DType::I64)};
    r.var.fill(1.0f);
    ops::BatchNormRunning on_cpu = to_device(r, Device::cpu()), on_gpu = to_device(r, gpu0());
    for (int step = 0; step < 5; ++step) {
      const Tensor x = test::random_tensor(shape, gen, -1.0f - step, 3.0f * step + 1.0f);
      Tensor y = Tensor::empty(shape), mean = Tensor::empty(ch), invstd = Tensor::empty(ch);
      Tensor gy = poisoned(shape, gpu0()), gmean = poisoned(ch, gpu0()),
             ginvstd = poisoned(ch, gpu0());
      const ops::BatchNormSpec spec{true, 1e-5, momentum};
      ops::batch_norm_forward(cpu, x, w, b, on_cpu, y, mean, invstd, spec);
      ops::batch_norm_forward(gpu, x.to(gpu0()), w.to(gpu0()), b.to(gpu0()), on_gpu, gy, gmean,
                              ginvstd, spec);
    }
    EXPECT_TRUE(gpu_matches_cpu(on_cpu.mean, on_gpu.mean, 1e-6, 1e-7));
    EXPECT_TRUE(gpu_matches_cpu(on_cpu.var, on_gpu.var, 1e-6, 1e-7));
    EXPECT_EQ(count_of(on_gpu), 5);
  }
}

TEST(CudaBatchNormGraph, ConvBatchNormReluStepMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 92);
  Context cpu, gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  const auto build = [](const Context& ctx) {
    auto g = std::make_unique<nn::Graph>();
    g->add<nn::Conv2d>("conv", 3, 8, 3, nn::Conv2dOptions{.padding = 1});
    g->add<nn::BatchNorm2d>("bn", 8);
    g->add<nn::ReLU>("relu");
    g->add<nn::Flatten>("flatten");
    g->add<nn::Linear>("fc", 8 * 8 * 8, 5);
    g->build(ctx, Shape{3, 8, 8}, 16, 5);
    g->initialize(ctx, init::InitScheme::KaimingNormal, 9);
    return g;
  };
  auto on_cpu = build(cpu), on_gpu = build(gpu);
  on_gpu->parameters().copy_from(on_cpu->parameters());
  const Tensor x = test::random_tensor(Shape{16, 3, 8, 8}, gen);
  const Tensor labels = test::random_labels(16, 5, gen);
  for (int step = 0; step < 2; ++step) {
    Tensor logits = on_cpu->forward(cpu, x, true, step);
    ops::cross_entropy_forward_backward(cpu, logits, labels, &logits);
    on_cpu->backward(cpu, logits);
    Tensor glogits = on_gpu->forward(gpu, x.to(gpu0()), true, step);
    ops::cross_entropy_forward_backward(gpu, glogits, labels.to(gpu0()), &glogits);
    on_gpu->backward(gpu, glogits);
  }
  const auto cg = on_cpu->named_gradients(), gg = on_gpu->named_gradients();
  for (size_t i = 0; i < cg.size(); ++i)
    EXPECT_LT(test::relative_l2_error(cg[i].tensor, gg[i].tensor), 1e-4) << cg[i].name;
  const auto cs = on_cpu->named_state(), gs = on_gpu->named_state();
  EXPECT_TRUE(gpu_matches_cpu(cs[0].tensor, gs[0].tensor, 1e-5, 1e-6)) << "running_mean";
  EXPECT_TRUE(gpu_matches_cpu(cs[1].tensor, gs[1].tensor, 1e-5, 1e-6)) << "running_var";
  EXPECT_EQ(gs[2].tensor.to(Device::cpu()).data<int64_t>()[0], 2);
  // Evaluation with the running statistics.
  const Tensor a = on_cpu->forward(cpu, x, false, 2).to(Device::cpu());
  const Tensor b = on_gpu->forward(gpu, x.to(gpu0()), false, 2);
  EXPECT_LT(test::relative_l2_error(a, b), 1e-4);
}

}  // namespace
}  // namespace kestrel
