// The training conventions on the GPU against the CPU (the oracle): the grouped optimizer
// update and the weights' moving average (same functors, same float operations: the same bits
// up to rtol 1e-6), and the folded conv-BN evaluation (cuDNN's convolution against the CPU's
// folded one: rtol 1e-4). Never run on a GPU yet.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine/nn/activation.hpp"
#include "engine/nn/batch_norm.hpp"
#include "engine/nn/conv2d.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/graph.hpp"
#include "engine/nn/linear.hpp"
#include "engine/nn/pooling.hpp"
#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/train/weight_ema.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

Tensor random_groups(int64_t n, std::mt19937_64& gen) {
  Tensor t = Tensor::empty(Shape{n}, DType::U8);
  for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(gen() & 1u);
  return t;
}

void expect_same_grouped_trajectory(optim::Optimizer& on_cpu, optim::Optimizer& on_gpu) {
  std::mt19937_64 gen(test::test_seed());
  Context cpu, gpu(gpu0());
  const int64_t n = 100003;
  const Tensor groups = random_groups(n, gen);
  on_cpu.set_param_groups({groups, {1.0, 0.0}});
  on_gpu.set_param_groups({groups.to(gpu0()), {1.0, 0.0}});
  Tensor p = test::random_tensor(Shape{n}, gen);
  Tensor gp = p.to(gpu0());
  for (int step = 0; step < 5; ++step) {
    const Tensor g = test::random_tensor(Shape{n}, gen);
    on_cpu.step(cpu, p, g);
    on_gpu.step(gpu, gp, g.to(gpu0()));
  }
  EXPECT_TRUE(test::gpu_matches_cpu(p, gp, 1e-6, 1e-7));
}

TEST(CudaConventions, GroupedAdamWMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::Adam a(optim::AdamOptions::adamw(3e-3f, 0.05f)),
      b(optim::AdamOptions::adamw(3e-3f, 0.05f));
  expect_same_grouped_trajectory(a, b);
}

TEST(CudaConventions, GroupedSgdNesterovMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  optim::SgdOptions o;
  o.lr = 0.05f;
  o.momentum = 0.9f;
  o.nesterov = true;
  o.weight_decay = 5e-3f;
  optim::Sgd a(o), b(o);
  expect_same_grouped_trajectory(a, b);
}

TEST(CudaConventions, WeightEmaMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  Context cpu, gpu(gpu0());
  const int64_t n = 100003;
  Tensor p = test::random_tensor(Shape{n}, gen);
  Tensor gp = p.to(gpu0());
  train::WeightEma a(0.7), b(0.7);
  a.start(cpu, p);
  b.start(gpu, gp);
  for (int u = 0; u < 25; ++u) {  // through the warm-up: both lerp branches
    p = test::random_tensor(Shape{n}, gen);
    gp = p.to(gpu0());
    a.update(cpu, p, nullptr);
    b.update(gpu, gp, nullptr);
  }
  EXPECT_TRUE(test::gpu_matches_cpu(a.averaged(), b.averaged(), 1e-6, 1e-7));
  b.swap_with(gpu, gp);
  EXPECT_TRUE(test::gpu_matches_cpu(a.averaged(), gp, 0.0, 0.0));
}

std::unique_ptr<nn::Graph> conv_bn_net() {
  auto g = std::make_unique<nn::Graph>();
  g->add<nn::Conv2d>("conv1", 3, 8, 3, nn::Conv2dOptions{.padding = 1});
  g->add<nn::BatchNorm2d>("bn1", 8);
  g->add<nn::ReLU>("relu1");
  g->add<nn::MaxPool2d>("pool1", 2);
  g->add<nn::Conv2d>("conv2", 8, 16, 3, nn::Conv2dOptions{.padding = 1, .bias = false});
  g->add<nn::BatchNorm2d>("bn2", 16);
  g->add<nn::ReLU>("relu2");
  g->add<nn::AdaptiveAvgPool2d>("pool2", 2, 2);
  g->add<nn::Flatten>("flatten");
  g->add<nn::Linear>("fc", 64, 10);
  return g;
}

TEST(CudaConventions, FoldedEvaluationMatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 2);
  Context cpu, gpu(gpu0());
  auto a = conv_bn_net(), b = conv_bn_net();
  a->build(cpu, Shape{3, 12, 12}, 4, 10);
  b->build(gpu, Shape{3, 12, 12}, 4, 10);
  ASSERT_EQ(b->folded_pairs().size(), 2u);
  a->initialize(cpu, init::InitScheme::PyTorchDefault, 3);
  std::uniform_real_distribution<float> mean(-0.5f, 0.5f), var(0.5f, 2.0f);
  for (auto& s : a->named_state()) {
    if (s.tensor.dtype() != DType::F32) continue;
    float* d = s.tensor.data<float>();
    for (int64_t i = 0; i < s.tensor.numel(); ++i)
      d[i] = s.name.ends_with("running_var") ? var(gen) : mean(gen);
  }
  b->parameters().copy_from(a->parameters());
  b->state().copy_from(a->state());
  const Tensor images = test::random_tensor(Shape{4, 3, 12, 12}, gen);
  const Tensor on_cpu = a->forward(cpu, images, false, 0);
  const Tensor on_gpu = b->forward(gpu, images.to(gpu0()), false, 0);
  EXPECT_TRUE(test::gpu_matches_cpu(on_cpu, on_gpu, 1e-4, 1e-5));
}

}  // namespace
}  // namespace kestrel
