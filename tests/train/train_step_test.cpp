// train::train_step, the step the trainer and the benchmark share: a finite loss updates the
// parameters once (Adam's step count, changed weights) and counts the correct rows; a NaN loss
// leaves the parameters and the optimizer exactly as they were.
#include "engine/train/train_step.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "engine/optim/adam.hpp"
#include "models/registry.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct Fixture {
  Context ctx;
  std::unique_ptr<nn::Graph> graph;
  optim::Adam optimizer{optim::AdamOptions::adamw(1e-3f, 5e-4f)};
  Tensor images, labels, dlogits;

  explicit Fixture(int64_t batch) {
    std::mt19937_64 gen(test::test_seed());
    graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
    graph->build(ctx, batch);
    graph->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
    images = test::random_tensor(Shape{batch, 1, 28, 28}, gen);
    labels = test::random_labels(batch, 10, gen);
    dlogits = Tensor::empty(Shape{batch, 10});
  }

  std::vector<float> parameters() {
    const Tensor& p = graph->parameters();
    return std::vector<float>(p.data<float>(), p.data<float>() + p.numel());
  }
};

TEST(TrainStep, FiniteLossUpdatesTheParametersOnce) {
  Fixture f(6);
  const std::vector<float> before = f.parameters();
  const train::StepResult r =
      train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits);
  EXPECT_TRUE(r.applied);
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_GT(r.loss, 0.0f);
  EXPECT_GE(r.correct, 0);
  EXPECT_LE(r.correct, 6);
  EXPECT_EQ(f.optimizer.step_count(), 1);
  EXPECT_NE(std::memcmp(before.data(), f.parameters().data(), before.size() * sizeof(float)), 0);
}

TEST(TrainStep, NonFiniteLossLeavesParametersAndOptimizerUntouched) {
  Fixture f(4);
  // A NaN bias makes every logit NaN (a NaN pixel would not do: ReLU maps NaN to 0).
  for (auto& p : f.graph->named_parameters())
    if (p.name == "fc3.bias") p.tensor.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> before = f.parameters();
  const train::StepResult r =
      train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits);
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(std::isnan(r.loss));
  EXPECT_EQ(f.optimizer.step_count(), 0);
  EXPECT_EQ(std::memcmp(before.data(), f.parameters().data(), before.size() * sizeof(float)), 0);
}

TEST(TrainStep, SmallerBatchUsesTheLeadingRowsOfTheGradientBuffer) {
  Fixture f(6);
  const Tensor images = f.images.slice(0, 3);
  const Tensor labels = f.labels.slice(0, 3);
  const train::StepResult r =
      train::train_step(f.ctx, *f.graph, f.optimizer, images, labels, 0, f.dlogits);
  EXPECT_TRUE(r.applied);
  EXPECT_LE(r.correct, 3);
}

}  // namespace
}  // namespace kestrel
