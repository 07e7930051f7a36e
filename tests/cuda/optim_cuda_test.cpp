// The optimizer step over a flat buffer on the GPU against the CPU, on the same parameters,
// gradients and state, for several steps, without groups and with four groups of their own
// rates and weight decays (one rate changed midway). Same functor, IEEE division and sqrt on
// both sides: tolerance rtol 1e-6. Muon's Newton-Schulz products run on cuBLAS against
// kestrel's CPU GEMM (other summation orders, f32 without TF32): a looser tolerance.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/optim/adam.hpp"
#include "engine/optim/muon.hpp"
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

// A random index over four groups, the same on both devices; group 2's rate scale changes
// after two steps (the per-group step scalars are written on the device each step).
template <class Opt, class Options>
void expect_same_grouped_trajectory(const Options& o) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const int64_t n = 100003;
  Tensor index = Tensor::empty(Shape{n}, DType::U8);
  for (int64_t i = 0; i < n; ++i) index.data<uint8_t>()[i] = static_cast<uint8_t>(gen() % 4);
  const std::vector<double> wd = {1.0, 0.0, 2.5, 0.5}, lr = {1.0, 4.0, 0.25, 0.5};
  Opt on_cpu(o), on_gpu(o);
  on_cpu.set_param_groups({index, wd, lr});
  on_gpu.set_param_groups({index.to(gpu0()), wd, lr});
  Context cpu, gpu(gpu0());
  Tensor p = test::random_tensor(Shape{n}, gen);
  Tensor gp = p.to(gpu0());
  for (int step = 0; step < 5; ++step) {
    if (step == 2) {
      on_cpu.set_group_lr_scale(2, 3.0);
      on_gpu.set_group_lr_scale(2, 3.0);
    }
    const Tensor g = test::random_tensor(Shape{n}, gen);
    on_cpu.step(cpu, p, g);
    on_gpu.step(gpu, gp, g.to(gpu0()));
  }
  EXPECT_TRUE(test::gpu_matches_cpu(p, gp, 1e-6, 1e-7));
}

TEST(CudaOptim, GroupLearningRatesMatchCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::SgdOptions sgd;
  sgd.lr = 0.02f;
  sgd.momentum = 0.9f;
  sgd.nesterov = true;
  sgd.weight_decay = 5e-3f;
  expect_same_grouped_trajectory<optim::Sgd>(sgd);
  optim::AdamOptions adam;
  adam.lr = 3e-3f;
  adam.weight_decay = 1e-2f;
  expect_same_grouped_trajectory<optim::Adam>(adam);
  expect_same_grouped_trajectory<optim::Adam>(optim::AdamOptions::adamw(3e-3f, 0.05f));
}

// Muon: three matrices (wide, tall, square) among SGD elements, with weight normalisation and
// a schedule that moves the rate; the CUDA side's norms, products and update stay on the device.
TEST(CudaOptim, MuonMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::MuonOptions o;
  o.sgd.lr = 0.1f;
  o.sgd.momentum = 0.85f;
  o.sgd.nesterov = true;
  o.sgd.weight_decay = 0.01f;
  o.lr = 0.05f;
  o.momentum = 0.6f;
  o.ns_steps = 3;
  o.normalize_weights = true;
  o.matrices = {{.offset = 7, .rows = 64, .cols = 216}, {.offset = 20000, .rows = 300, .cols = 40},
                {.offset = 40000, .rows = 33, .cols = 33}};
  optim::Muon on_cpu(o), on_gpu(o);
  std::mt19937_64 gen(test::test_seed() + 2);
  Context cpu, gpu(gpu0());
  const int64_t n = 50001;
  Tensor p = test::random_tensor(Shape{n}, gen);
  Tensor gp = p.to(gpu0());
  for (int step = 0; step < 4; ++step) {
    on_cpu.set_lr(0.1f * (1.0f - 0.2f * static_cast<float>(step)));
    on_gpu.set_lr(0.1f * (1.0f - 0.2f * static_cast<float>(step)));
    const Tensor g = test::random_tensor(Shape{n}, gen);
    on_cpu.step(cpu, p, g);
    on_gpu.step(gpu, gp, g.to(gpu0()));
  }
  EXPECT_TRUE(test::gpu_matches_cpu(p, gp, 1e-4, 1e-5));
}

}  // namespace
}  // namespace kestrel
