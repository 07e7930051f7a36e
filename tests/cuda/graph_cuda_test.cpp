// Whole graphs on the GPU against the same graphs on the CPU: the models built on both
// devices from the same parameters and batch must agree on the loss, the logits and every
// parameter gradient (relative L2 error under 1e-4 in strict FP32 with deterministic
// algorithms; 1e-3 for AlexNet's deeper chain of 4096-long sums), dropout masks included. The
// initialisers fill the flat buffer alike on both devices, and a GPU step draws no new memory
// from the device's pool after the first.
#include <gtest/gtest.h>

#include "engine/memory/memory_pool.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "engine/tensor/storage.hpp"
#include "models/registry.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

struct GraphCase {
  const char* model;
  models::ModelInput input;
  int64_t batch;
  double tolerance;
};

void PrintTo(const GraphCase& c, std::ostream* os) { *os << c.model; }

float step(const Context& ctx, nn::Graph& g, const Tensor& x, const Tensor& labels) {
  Tensor logits = g.forward(ctx, x, /*training=*/true, 3);
  const float loss = ops::cross_entropy_forward_backward(ctx, logits, labels, &logits);
  g.backward(ctx, logits);
  return loss;
}

class CudaGraph : public ::testing::TestWithParam<GraphCase> {};

TEST_P(CudaGraph, StepMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const GraphCase& c = GetParam();
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  auto on_cpu = models::build_model(c.model, c.input);
  auto on_gpu = models::build_model(c.model, c.input);
  on_cpu->build(cpu, c.batch);
  on_gpu->build(gpu, c.batch);
  on_cpu->initialize(cpu, init::InitScheme::PyTorchDefault, 77);
  on_gpu->initialize(gpu, init::InitScheme::PyTorchDefault, 77);
  EXPECT_TRUE(test::gpu_matches_cpu(on_cpu->parameters(), on_gpu->parameters(), 1e-6, 1e-7));
  on_gpu->parameters().copy_from(on_cpu->parameters());

  const models::ModelInput& in = c.input;
  const Tensor x = test::random_tensor(Shape{c.batch, in.channels, in.height, in.width}, gen);
  const Tensor labels = test::random_labels(c.batch, static_cast<int32_t>(in.classes), gen);
  const float want = step(cpu, *on_cpu, x, labels);
  const float got = step(gpu, *on_gpu, x.to(gpu0()), labels.to(gpu0()));
  EXPECT_NEAR(got, want, c.tolerance * std::abs(want));
  const auto cpu_grads = on_cpu->named_gradients(), gpu_grads = on_gpu->named_gradients();
  for (size_t i = 0; i < cpu_grads.size(); ++i) {
    EXPECT_LT(test::relative_l2_error(cpu_grads[i].tensor, gpu_grads[i].tensor), c.tolerance)
        << "gradient of " << cpu_grads[i].name;
  }
}

TEST_P(CudaGraph, StepAllocatesNoNewDeviceMemory) {
  KESTREL_SKIP_WITHOUT_GPU();
  const GraphCase& c = GetParam();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context gpu(gpu0());
  auto g = models::build_model(c.model, c.input);
  g->build(gpu, c.batch);
  g->initialize(gpu, init::InitScheme::PyTorchDefault, 5);
  const models::ModelInput& in = c.input;
  const Tensor x =
      test::random_tensor(Shape{c.batch, in.channels, in.height, in.width}, gen).to(gpu0());
  const Tensor labels =
      test::random_labels(c.batch, static_cast<int32_t>(in.classes), gen).to(gpu0());
  step(gpu, *g, x, labels);
  gpu.synchronize();
  const PoolStats before = pool_for(gpu0()).stats();
  step(gpu, *g, x, labels);
  step(gpu, *g, x, labels);
  gpu.synchronize();
  const PoolStats after = pool_for(gpu0()).stats();
  EXPECT_EQ(after.raw_allocations, before.raw_allocations);
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGraph,
                         ::testing::Values(GraphCase{"lenet5", {1, 28, 28, 10}, 32, 1e-4},
                                           GraphCase{"lenet5-classic", {1, 28, 28, 10}, 32, 1e-4},
                                           GraphCase{"alexnet", {3, 32, 32, 10}, 8, 1e-3}));

}  // namespace
}  // namespace kestrel
