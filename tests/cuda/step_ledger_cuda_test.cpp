// The training step's device-side bookkeeping on the GPU against the CPU: the tally of one
// softmax-cross-entropy step (the GPU's fixed-tree float sum against the CPU's double sum:
// rtol 1e-6; hits exact; the gradient within 1e-6), gradient clipping with the norm left in
// device memory, and LeNet-5 steps whose ledger agrees with the CPU's and halts on the device
// (an out-of-range label: no host check, no read out of bounds, no update).
#include <gtest/gtest.h>

#include <vector>

#include "engine/ops/grad_norm.hpp"
#include "engine/ops/step_tally.hpp"
#include "engine/optim/adam.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "models/registry.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

kernels::StepTally read_tally(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  return {host.data<double>()[0], host.data<double>()[1]};
}

TEST(CudaStepTally, MatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  for (int64_t rows : {1, 64, 1000}) {
    SCOPED_TRACE(rows);
    const Tensor logits = test::random_tensor(Shape{rows, 10}, gen, -5.0f, 5.0f);
    const Tensor labels = test::random_labels(rows, 10, gen);
    Tensor d_cpu = Tensor::empty(logits.shape());
    Tensor d_gpu = test::poisoned(logits.shape(), gpu0());
    Tensor t_cpu = Tensor::empty(Shape{2}, DType::F64);
    Tensor t_gpu = Tensor::empty(Shape{2}, DType::F64, gpu0());
    ops::cross_entropy_tally(cpu, logits, labels, &d_cpu, {0.1f, 0},
                             reinterpret_cast<kernels::StepTally*>(t_cpu.data<double>()));
    ops::cross_entropy_tally(gpu, logits.to(gpu0()), labels.to(gpu0()), &d_gpu, {0.1f, 0},
                             reinterpret_cast<kernels::StepTally*>(t_gpu.data<double>()));
    const kernels::StepTally want = read_tally(t_cpu), got = read_tally(t_gpu);
    EXPECT_NEAR(got.loss_times_rows, want.loss_times_rows, 1e-6 * want.loss_times_rows);
    EXPECT_EQ(got.hits, want.hits);
    EXPECT_TRUE(test::gpu_matches_cpu(d_cpu, d_gpu, 1e-6, 1e-9));
  }
}

TEST(CudaStepTally, ClippingOnTheDeviceMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context cpu, gpu(gpu0());
  Tensor g_cpu = test::random_tensor(Shape{300007}, gen);
  Tensor g_gpu = g_cpu.to(gpu0());
  ops::clip_grad_norm_on_device(cpu, g_cpu, 1.0);
  ops::clip_grad_norm_on_device(gpu, g_gpu, 1.0);
  EXPECT_TRUE(test::gpu_matches_cpu(g_cpu, g_gpu, 1e-6, 1e-12));
}

struct Lenet {
  Context ctx;
  std::unique_ptr<nn::Graph> graph;
  optim::Adam adam{optim::AdamOptions::adamw(1e-3f, 5e-4f)};
  Tensor dlogits;
  train::StepLedger ledger;

  explicit Lenet(Device device) : ctx(device), ledger(ctx) {
    ctx.set_math({.tf32 = false, .deterministic = true});
    graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
    graph->build(ctx, 32);
    graph->initialize(ctx, init::InitScheme::PyTorchDefault, 5);
    dlogits = Tensor::empty(Shape{32, 10}, DType::F32, device);
  }
};

TEST(CudaStepLedger, LenetStepsMatchCpuAndHaltOnTheDevice) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 2);
  Lenet cpu(Device::cpu()), gpu(gpu0());
  gpu.graph->parameters().copy_from(cpu.graph->parameters());
  for (int64_t step = 0; step < 4; ++step) {
    const Tensor x = test::random_tensor(Shape{32, 1, 28, 28}, gen);
    const Tensor y = test::random_labels(32, 10, gen);
    train::train_step(cpu.ctx, *cpu.graph, cpu.adam, x, y, step, cpu.dlogits, cpu.ledger,
                      {.clip_norm = 1.0f});
    train::train_step(gpu.ctx, *gpu.graph, gpu.adam, x.to(gpu0()), y.to(gpu0()), step,
                      gpu.dlogits, gpu.ledger, {.clip_norm = 1.0f});
  }
  const train::LedgerSnapshot want = cpu.ledger.read(), got = gpu.ledger.read();
  EXPECT_FALSE(got.halted);
  EXPECT_EQ(got.steps, 4);
  EXPECT_EQ(got.rows, 128.0);
  EXPECT_NEAR(got.loss_sum, want.loss_sum, 1e-5 * want.loss_sum);
  EXPECT_NEAR(got.correct, want.correct, 1.0);  // an argmax may flip on a near tie
  EXPECT_TRUE(test::gpu_matches_cpu(cpu.graph->parameters(), gpu.graph->parameters(), 1e-4, 1e-6));

  // A label of 10 among 10 classes: the GPU step halts without any host check.
  const std::vector<float> before = gpu.graph->parameters().to_vector();
  const Tensor x = test::random_tensor(Shape{32, 1, 28, 28}, gen);
  Tensor y = test::random_labels(32, 10, gen);
  y.data<int32_t>()[5] = 10;
  train::train_step(gpu.ctx, *gpu.graph, gpu.adam, x.to(gpu0()), y.to(gpu0()), 4, gpu.dlogits,
                    gpu.ledger, {.clip_norm = 1.0f});
  const train::LedgerSnapshot halted = gpu.ledger.read();
  EXPECT_TRUE(halted.halted);
  EXPECT_EQ(halted.halted_step, 4);
  EXPECT_EQ(halted.steps, 4);
  EXPECT_EQ(gpu.graph->parameters().to_vector(), before);
}

}  // namespace
}  // namespace kestrel
