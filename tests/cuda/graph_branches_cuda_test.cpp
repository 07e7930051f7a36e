// A model with branches on the GPU against the same model on the CPU: a residual block and an
// Inception-style block (tests/support/branching_net.hpp) from the same parameters and batch
// agree on the loss and every parameter gradient (relative L2 error under 1e-4 in strict FP32
// with deterministic algorithms), the summed fan-out gradients and the arena's reuse included,
// and a few SGD steps on the GPU draw no new device memory after the first.
#include <gtest/gtest.h>

#include "engine/memory/memory_pool.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/tensor/storage.hpp"
#include "tests/cuda/cuda_support.hpp"
#include "tests/support/branching_net.hpp"

namespace kestrel {
namespace {

using test::gpu0;

constexpr int64_t kBatch = 6, kClasses = 7;
const Shape kImage{3, 9, 9};

float step(const Context& ctx, nn::Graph& g, const Tensor& x, const Tensor& labels) {
  Tensor logits = g.forward(ctx, x, /*training=*/true, 1);
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
  g.backward(ctx, logits);
  return loss;
}

TEST(CudaGraphBranches, StepMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  auto on_cpu = test::branching_net(kImage[0], kClasses);
  auto on_gpu = test::branching_net(kImage[0], kClasses);
  on_cpu->build(cpu, kImage, kBatch, kClasses);
  on_gpu->build(gpu, kImage, kBatch, kClasses);
  on_cpu->initialize(cpu, init::InitScheme::PyTorchDefault, 21);
  on_gpu->parameters().copy_from(on_cpu->parameters());

  const Tensor x = test::random_tensor(Shape{kBatch, kImage[0], kImage[1], kImage[2]}, gen);
  const Tensor labels = test::random_labels(kBatch, kClasses, gen);
  const float want = step(cpu, *on_cpu, x, labels);
  const float got = step(gpu, *on_gpu, x.to(gpu0()), labels.to(gpu0()));
  EXPECT_NEAR(got, want, 1e-4 * std::abs(want));
  const auto cpu_grads = on_cpu->named_gradients(), gpu_grads = on_gpu->named_gradients();
  for (size_t i = 0; i < cpu_grads.size(); ++i)
    EXPECT_LT(test::relative_l2_error(cpu_grads[i].tensor, gpu_grads[i].tensor), 1e-4)
        << "gradient of " << cpu_grads[i].name;
}

TEST(CudaGraphBranches, StepsAllocateNoNewDeviceMemory) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context gpu(gpu0());
  auto g = test::branching_net(kImage[0], kClasses);
  g->build(gpu, kImage, kBatch, kClasses);
  g->initialize(gpu, init::InitScheme::PyTorchDefault, 5);
  optim::Sgd sgd({.lr = 0.05f, .momentum = 0.9f});
  const Tensor x =
      test::random_tensor(Shape{kBatch, kImage[0], kImage[1], kImage[2]}, gen).to(gpu0());
  const Tensor labels = test::random_labels(kBatch, kClasses, gen).to(gpu0());
  step(gpu, *g, x, labels);
  sgd.step(gpu, g->parameters(), g->gradients());
  gpu.synchronize();
  const PoolStats before = pool_for(gpu0()).stats();
  for (int i = 0; i < 3; ++i) {
    step(gpu, *g, x, labels);
    sgd.step(gpu, g->parameters(), g->gradients());
  }
  gpu.synchronize();
  const PoolStats after = pool_for(gpu0()).stats();
  EXPECT_EQ(after.raw_allocations, before.raw_allocations);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

}  // namespace
}  // namespace kestrel
