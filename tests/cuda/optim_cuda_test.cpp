// The optimizer step over a flat buffer on the GPU against the CPU, on the same parameters,
// gradients and state, for several steps. Same functor, IEEE division and sqrt on both sides:
// tolerance rtol 1e-6.
#include <gtest/gtest.h>

#include <memory>

#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

void expect_same_trajectory(optim::Optimizer& on_cpu, optim::Optimizer& on_gpu) {
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  const int64_t n = 100003;  // odd, larger than one block
  Tensor p = test::random_tensor(Shape{n}, gen);
  Tensor gp = p.to(gpu0());
  for (int step = 0; step < 5; ++step) {
    const Tensor g = test::random_tensor(Shape{n}, gen);
    on_cpu.step(cpu, p, g);
    on_gpu.step(gpu, gp, g.to(gpu0()));
  }
  EXPECT_TRUE(test::gpu_matches_cpu(p, gp, 1e-6, 1e-7));
}

TEST(CudaOptim, AdamMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::AdamOptions o;
  o.lr = 1e-2f;
  o.weight_decay = 1e-3f;
  optim::Adam a(o), b(o);
  expect_same_trajectory(a, b);
}

TEST(CudaOptim, AdamWMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::Adam a(optim::AdamOptions::adamw(3e-3f, 0.05f)),
      b(optim::AdamOptions::adamw(3e-3f, 0.05f));
  expect_same_trajectory(a, b);
}

TEST(CudaOptim, SgdNesterovMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::SgdOptions o;
  o.lr = 0.05f;
  o.momentum = 0.9f;
  o.nesterov = true;
  o.weight_decay = 5e-4f;
  optim::Sgd a(o), b(o);
  expect_same_trajectory(a, b);
}

}  // namespace
}  // namespace kestrel
