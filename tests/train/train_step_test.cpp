// train::train_step, the step the trainer and the benchmark share, with its StepLedger: a
// finite loss updates the parameters once and the ledger holds the step's loss and hits (checked
// against a float64 softmax-cross-entropy written here); a NaN loss halts the ledger and leaves
// the parameters and the optimizer's state exactly as they were, for that step and every later
// one, although the host never looked at the loss in between.
#include "engine/train/train_step.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "engine/optim/adam.hpp"
#include "engine/train/step_ledger.hpp"
#include "models/registry.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

struct Fixture {
  Context ctx;
  std::unique_ptr<nn::Graph> graph;
  optim::Adam optimizer{optim::AdamOptions::adamw(1e-3f, 5e-4f)};
  Tensor images, labels, dlogits;

  explicit Fixture(int64_t batch, uint64_t salt = 0) {
    std::mt19937_64 gen(test::test_seed() + salt);
    graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
    graph->build(ctx, batch);
    graph->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
    images = test::random_tensor(Shape{batch, 1, 28, 28}, gen);
    labels = test::random_labels(batch, 10, gen);
    dlogits = Tensor::empty(Shape{batch, 10});
  }

  std::vector<float> parameters() const { return values(graph->parameters()); }

  static std::vector<float> values(const Tensor& t) {
    return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
  }

  float* parameter(const std::string& name) {
    for (auto& p : graph->named_parameters())
      if (p.name == name) return p.tensor.data<float>();
    ADD_FAILURE() << "no parameter " << name;
    return nullptr;
  }
};

// The mean softmax cross-entropy and the argmax hits of logits [n, classes], in float64.
struct Reference {
  double loss = 0.0;
  int64_t hits = 0;
};

Reference reference(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  const float* z = logits.data<float>();
  const int32_t* y = labels.data<int32_t>();
  Reference r;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = z + i * classes;
    double max = row[0];
    int64_t best = 0;
    for (int64_t j = 1; j < classes; ++j)
      if (row[j] > max) max = row[j], best = j;
    double sum = 0.0;
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j]) - max);
    r.loss += std::log(sum) + max - static_cast<double>(row[y[i]]);
    r.hits += best == y[i] ? 1 : 0;
  }
  r.loss /= static_cast<double>(n);
  return r;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(TrainStep, FiniteLossUpdatesTheParametersOnceAndTalliesTheStep) {
  Fixture f(6);
  // LeNet-5 has no dropout: the step's forward pass gives these logits.
  const Reference want = reference(f.graph->forward(f.ctx, f.images, true, 0), f.labels);
  const std::vector<float> before = f.parameters();
  train::StepLedger ledger(f.ctx);
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits, ledger);
  const train::LedgerSnapshot got = ledger.read();
  EXPECT_FALSE(got.halted);
  EXPECT_EQ(got.steps, 1);
  EXPECT_EQ(got.rows, 6.0);
  EXPECT_NEAR(got.last_loss, want.loss, 1e-6 * want.loss);
  EXPECT_DOUBLE_EQ(got.loss_sum, static_cast<double>(got.last_loss) * 6.0);
  EXPECT_EQ(got.correct, static_cast<double>(want.hits));
  EXPECT_EQ(f.optimizer.step_count(), 1);
  EXPECT_FALSE(same_bytes(before, f.parameters()));
}

TEST(TrainStep, LedgerSumsStepsUntilResetAndKeepsTheLastLoss) {
  Fixture f(5, 1);
  train::StepLedger ledger(f.ctx);
  double loss_sum = 0.0, hits = 0.0;
  for (int64_t step = 0; step < 3; ++step) {
    const Reference want = reference(f.graph->forward(f.ctx, f.images, true, step), f.labels);
    train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, step, f.dlogits, ledger);
    const train::LedgerSnapshot got = ledger.read();
    EXPECT_NEAR(got.last_loss, want.loss, 1e-6 * want.loss) << "step " << step;
    loss_sum += static_cast<double>(got.last_loss) * 5.0;
    hits += static_cast<double>(want.hits);
  }
  train::LedgerSnapshot got = ledger.read();
  EXPECT_EQ(got.steps, 3);
  EXPECT_EQ(got.rows, 15.0);
  EXPECT_EQ(got.loss_sum, loss_sum);
  EXPECT_EQ(got.correct, hits);
  EXPECT_DOUBLE_EQ(got.mean_loss(), loss_sum / 15.0);
  ledger.reset_counts();
  got = ledger.read();
  EXPECT_EQ(got.steps, 0);
  EXPECT_EQ(got.rows, 0.0);
  EXPECT_EQ(got.loss_sum, 0.0);
  EXPECT_FALSE(got.halted);
}

TEST(TrainStep, NonFiniteLossHaltsAndLeavesParametersAndOptimizerStateUntouched) {
  Fixture f(4, 2);
  train::StepLedger ledger(f.ctx);
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits, ledger);
  const train::LedgerSnapshot first = ledger.read();
  ASSERT_FALSE(first.halted);
  const std::vector<float> after_first = f.parameters();
  std::vector<std::vector<float>> state;
  for (const auto& [name, t] : f.optimizer.state()) state.push_back(Fixture::values(t));

  // A NaN bias makes every logit NaN (a NaN pixel would not do: ReLU maps NaN to 0).
  float* bias = f.parameter("fc3.bias");
  const float saved = bias[0];
  bias[0] = std::numeric_limits<float>::quiet_NaN();
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 1, f.dlogits, ledger);
  // Restored: step 2's loss is finite again, yet the halted ledger keeps it from counting or
  // updating anything.
  bias[0] = saved;
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 2, f.dlogits, ledger);

  const train::LedgerSnapshot got = ledger.read();
  EXPECT_TRUE(got.halted);
  EXPECT_EQ(got.halted_step, 1);
  EXPECT_TRUE(std::isnan(got.halted_loss));
  EXPECT_EQ(got.steps, 1);
  EXPECT_EQ(got.loss_sum, first.loss_sum);
  EXPECT_EQ(got.last_loss, first.last_loss);
  EXPECT_TRUE(same_bytes(after_first, f.parameters()));
  size_t i = 0;
  for (const auto& [name, t] : f.optimizer.state()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(same_bytes(state[i++], Fixture::values(t)));
  }
  // A reset starts the next epoch's counts; the halt stays.
  ledger.reset_counts();
  EXPECT_TRUE(ledger.read().halted);
}

TEST(TrainStep, AHaltBeforeTheFirstUpdateKeepsTheInitialParameters) {
  Fixture f(4, 3);
  f.parameter("fc3.bias")[0] = std::numeric_limits<float>::infinity();
  const std::vector<float> before = f.parameters();
  train::StepLedger ledger(f.ctx);
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits, ledger);
  const train::LedgerSnapshot got = ledger.read();
  EXPECT_TRUE(got.halted);
  EXPECT_EQ(got.halted_step, 0);
  EXPECT_FALSE(std::isfinite(got.halted_loss));
  EXPECT_EQ(got.steps, 0);
  EXPECT_TRUE(same_bytes(before, f.parameters()));
}

TEST(TrainStep, ALabelOutOfRangeHaltsInsteadOfReadingOutOfBounds) {
  // The step checks no label on the host (that would wait for the device): the row's NaN loss
  // halts the ledger instead.
  Fixture f(4, 4);
  f.labels.data<int32_t>()[2] = 10;
  const std::vector<float> before = f.parameters();
  train::StepLedger ledger(f.ctx);
  train::train_step(f.ctx, *f.graph, f.optimizer, f.images, f.labels, 0, f.dlogits, ledger);
  EXPECT_TRUE(ledger.read().halted);
  EXPECT_TRUE(same_bytes(before, f.parameters()));
}

TEST(TrainStep, SmallerBatchUsesTheLeadingRowsOfTheGradientBuffer) {
  Fixture f(6, 5);
  const Tensor images = f.images.slice(0, 3);
  const Tensor labels = f.labels.slice(0, 3);
  train::StepLedger ledger(f.ctx);
  train::train_step(f.ctx, *f.graph, f.optimizer, images, labels, 0, f.dlogits, ledger);
  const train::LedgerSnapshot got = ledger.read();
  EXPECT_FALSE(got.halted);
  EXPECT_EQ(got.rows, 3.0);
  EXPECT_LE(got.correct, 3.0);
}

}  // namespace
}  // namespace kestrel
