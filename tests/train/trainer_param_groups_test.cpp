// Parameter-group rules in training runs, end to end on the CPU (LeNet-5, synthetic images):
// a group with epochs=1 trains in epoch 1 and is the same bits after epochs 2 and 3 while the
// other groups go on changing, with AdamW (the recipe) and with SGD; a run interrupted after
// epoch 1 and resumed keeps it so, and ends with the bits of the straight run; rules at scale
// 1 run bit for bit as no rules.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/data/registry.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/train_observers.hpp"

namespace kestrel::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Snapshot = std::map<std::string, std::vector<float>>;

// The tensors of a checkpoint by name (parameters and optimizer state).
Snapshot read_snapshot(const fs::path& file) {
  Snapshot out;
  for (const auto& e : checkpoint::read_safetensors(file.string()).entries)
    if (e.dtype == DType::F32) out[e.name] = e.tensor.to_vector();
  return out;
}

// After each epoch (the trainer saves last.safetensors before it reports the epoch): the
// saved tensors; and, when `interrupt_after` > 0, a simulated crash after that epoch.
class SnapshotEachEpoch final : public TrainObserver {
 public:
  SnapshotEachEpoch(fs::path file, int64_t interrupt_after)
      : file_(std::move(file)), interrupt_after_(interrupt_after) {}
  void on_epoch(const json& record) override {
    snapshots.push_back(read_snapshot(file_));
    if (record.at("epoch").get<int64_t>() == interrupt_after_)
      throw std::runtime_error("interrupted");
  }
  std::vector<Snapshot> snapshots;

 private:
  fs::path file_;
  int64_t interrupt_after_;
};

// 256 synthetic images in batches of 64, 3 epochs; conv1 trains for the first epoch only, fc3
// at half the rate without weight decay, and the biases no rule matches without decay.
TrainConfig grouped_run(const test::ScratchDir& root, const std::string& name,
                        const std::string& optimizer) {
  TrainConfig c = default_config("lenet5", "synthetic");
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = 256;
  c.batch = 64;
  c.epochs = 3;
  c.no_decay_norm_bias = true;
  c.param_groups = {{"conv1.*", 1.0, 1.0, 1}, {"fc3.*", 0.5, 0.0, 0}};
  if (optimizer == "sgd") {
    c.optimizer = "sgd";
    c.lr = 0.05f;
    c.schedule = ScheduleKind::Constant;
  }
  return c;
}

fs::path last_checkpoint(const TrainConfig& c) {
  return fs::path(c.out_dir) / c.name / "last.safetensors";
}

// The weights the trainer starts from (same model, shapes and seed).
Snapshot initial_weights(const TrainConfig& c) {
  Context ctx(Device::cpu());
  const data::ImageDataset train_set = data::load_dataset(c.dataset, "train", c.data_dir);
  auto graph = apps::model_builder()(
      c.model, Shape{train_set.channels(), train_set.height(), train_set.width()},
      train_set.classes);
  graph->build(ctx, c.batch);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, c.seed);
  Snapshot out;
  for (const auto& p : graph->named_parameters()) out[p.name] = p.tensor.to_vector();
  return out;
}

using test::Quiet;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

class TrainerParamGroups : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainerParamGroups, AGroupWithOneEpochStopsChangingAfterItAndResumeKeepsThat) {
  test::ScratchDir root;
  const TrainConfig straight = grouped_run(root, "straight", GetParam());
  SnapshotEachEpoch observed(last_checkpoint(straight), 0);
  const RunResult r = run_training(straight, apps::model_builder(), observed);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  ASSERT_EQ(observed.snapshots.size(), 3u);
  const Snapshot start = initial_weights(straight);
  const auto& s = observed.snapshots;
  for (const char* name : {"conv1.weight", "conv1.bias"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(same_bits(start.at(name), s[0].at(name)));  // trained in epoch 1
    EXPECT_TRUE(same_bits(s[0].at(name), s[1].at(name)));
    EXPECT_TRUE(same_bits(s[0].at(name), s[2].at(name)));
  }
  for (const char* name : {"conv2.weight", "conv2.bias", "fc1.weight", "fc3.weight", "fc3.bias"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(same_bits(start.at(name), s[0].at(name)));
    EXPECT_FALSE(same_bits(s[0].at(name), s[1].at(name)));
    EXPECT_FALSE(same_bits(s[1].at(name), s[2].at(name)));
  }

  // Interrupted after epoch 1 and resumed: the fresh optimizer learns again that conv1's
  // group has stopped, and the run ends as the straight one did.
  TrainConfig resumed = grouped_run(root, "resumed", GetParam());
  SnapshotEachEpoch interrupted(last_checkpoint(resumed), 1);
  EXPECT_THROW(run_training(resumed, apps::model_builder(), interrupted), std::runtime_error);
  resumed.resume = last_checkpoint(resumed).string();
  SnapshotEachEpoch continued(last_checkpoint(resumed), 0);
  ASSERT_EQ(run_training(resumed, apps::model_builder(), continued).status, RunStatus::Completed);
  ASSERT_EQ(continued.snapshots.size(), 2u);
  EXPECT_TRUE(same_bits(continued.snapshots[1].at("conv1.weight"), s[0].at("conv1.weight")));
  const Snapshot a = read_snapshot(last_checkpoint(straight));
  const Snapshot b = read_snapshot(last_checkpoint(resumed));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, values] : a) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(b.contains(name));
    EXPECT_TRUE(same_bits(values, b.at(name)));
  }
}

INSTANTIATE_TEST_SUITE_P(AdamWAndSgd, TrainerParamGroups, ::testing::Values("adamw", "sgd"),
                         [](const auto& test_info) { return test_info.param; });

// Rules that keep the optimizer's rate and decay (and epochs past the run's end) give the bits
// of the run without rules: a group's rate is lr * 1 in double, rounded as lr itself was.
TEST(TrainerParamGroupsAtScaleOne, RunBitwiseAsWithoutRules) {
  test::ScratchDir root;
  TrainConfig plain = grouped_run(root, "plain", "adamw");
  plain.epochs = 2;
  plain.no_decay_norm_bias = false;  // a rule would take its biases back into decay
  plain.param_groups.clear();
  TrainConfig ruled = plain;
  ruled.name = "ruled";
  ruled.param_groups = {{"conv1.*"}, {"fc*", 1.0, 1.0, 5}};
  Quiet quiet;
  ASSERT_EQ(run_training(plain, apps::model_builder(), quiet).status, RunStatus::Completed);
  ASSERT_EQ(run_training(ruled, apps::model_builder(), quiet).status, RunStatus::Completed);
  const Snapshot a = read_snapshot(last_checkpoint(plain));
  const Snapshot b = read_snapshot(last_checkpoint(ruled));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, values] : a) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(b.contains(name));
    EXPECT_TRUE(same_bits(values, b.at(name)));
  }
}

}  // namespace
}  // namespace kestrel::train
