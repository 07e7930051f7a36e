// A training step's body replayed as a CUDA Graph against the same steps run eagerly on the
// GPU: LeNet-5 (SGD with momentum, clipping) and AlexNet for CIFAR-10 (AdamW, dropout, whose
// masks follow the step index in device memory) must end with bit-identical parameters and
// ledgers after steps with changing rates, and the capture must succeed (its status is printed
// when it does not). Deterministic cuDNN algorithms on both sides. AlexNet once more in bf16
// with channels-last convolutions: the packing launches and their scratch are captured too.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/train/step_graph.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "models/registry.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

struct Run {
  Context ctx{gpu0()};
  std::unique_ptr<nn::Graph> graph;
  std::unique_ptr<optim::Optimizer> optimizer;
  Tensor dlogits;
  train::StepLedger ledger{ctx};

  Run(const char* model, const models::ModelInput& in, int64_t batch, bool adam, bool bf16) {
    ctx.set_math({.tf32 = false, .bf16 = bf16, .channels_last = true, .deterministic = true});
    graph = models::build_model(model, in);
    graph->build(ctx, batch);
    graph->initialize(ctx, init::InitScheme::PyTorchDefault, 21);
    if (adam) {
      optimizer = std::make_unique<optim::Adam>(optim::AdamOptions::adamw(1e-3f, 5e-4f));
    } else {
      optimizer = std::make_unique<optim::Sgd>(optim::SgdOptions{.lr = 0.05f, .momentum = 0.9f});
    }
    dlogits = Tensor::empty(Shape{batch, in.classes}, DType::F32, gpu0());
  }
};

void expect_replay_matches_eager(const char* model, const models::ModelInput& in, bool adam,
                                 bool bf16 = false) {
  constexpr int64_t kBatch = 16, kSteps = 6;
  std::mt19937_64 gen(test::test_seed());
  Run eager(model, in, kBatch, adam, bf16), replayed(model, in, kBatch, adam, bf16);
  train::StepGraph step_graph(train::make_step_capturer(replayed.ctx), kBatch);
  const train::StepOptions options{.clip_norm = 5.0f};
  // The same inputs on both: fixed buffers, as the loader's are, refilled before each step.
  Tensor x = Tensor::empty(Shape{kBatch, in.channels, in.height, in.width}, DType::F32, gpu0());
  Tensor y = Tensor::empty(Shape{kBatch}, DType::I32, gpu0());
  for (int64_t step = 0; step < kSteps; ++step) {
    x.copy_from(test::random_tensor(x.shape(), gen));
    y.copy_from(test::random_labels(kBatch, static_cast<int32_t>(in.classes), gen));
    const float lr = 1e-3f * static_cast<float>(step + 1);
    eager.optimizer->set_lr(lr);
    replayed.optimizer->set_lr(lr);
    train::train_step(eager.ctx, *eager.graph, *eager.optimizer, x, y, step, eager.dlogits,
                      eager.ledger, options);
    train::queue_step_inputs(replayed.ctx, *replayed.graph, *replayed.optimizer, step,
                             replayed.ledger);
    step_graph.run(kBatch, [&] {
      train::queue_step_body(replayed.ctx, *replayed.graph, *replayed.optimizer, x, y,
                             replayed.dlogits, replayed.ledger, options);
    });
  }
  ASSERT_TRUE(step_graph.replaying()) << step_graph.status();
  EXPECT_EQ(step_graph.replays(), kSteps - 1);
  const train::LedgerSnapshot a = eager.ledger.read(), b = replayed.ledger.read();
  EXPECT_EQ(a.steps, kSteps);
  EXPECT_EQ(b.steps, kSteps);
  EXPECT_EQ(a.loss_sum, b.loss_sum);
  EXPECT_EQ(a.correct, b.correct);
  const Tensor pa = eager.graph->parameters().to(Device::cpu());
  const Tensor pb = replayed.graph->parameters().to(Device::cpu());
  EXPECT_EQ(std::memcmp(pa.raw_data(), pb.raw_data(), pa.nbytes()), 0)
      << "replayed steps changed the parameters differently from eager ones";
}

TEST(CudaStepGraph, LenetStepsReplayedMatchEagerBitForBit) {
  KESTREL_SKIP_WITHOUT_GPU();
  expect_replay_matches_eager("lenet5", models::ModelInput{1, 28, 28, 10}, /*adam=*/false);
}

TEST(CudaStepGraph, AlexnetStepsWithDropoutReplayedMatchEagerBitForBit) {
  KESTREL_SKIP_WITHOUT_GPU();
  expect_replay_matches_eager("alexnet", models::ModelInput{3, 32, 32, 10}, /*adam=*/true);
}

TEST(CudaStepGraph, AlexnetBf16StepsReplayedMatchEagerBitForBit) {
  KESTREL_SKIP_WITHOUT_GPU();
  expect_replay_matches_eager("alexnet", models::ModelInput{3, 32, 32, 10}, /*adam=*/true,
                              /*bf16=*/true);
}

}  // namespace
}  // namespace kestrel
