// run_training as ranks of a data-parallel job, the ranks being threads of this process
// (test::ThreadCommunicator), so that the trainer's whole data-parallel path is tested in every
// build, MPI or not: only rank 0 writes the run, every rank returns the same result, and the
// final parameters and optimizer state match one process on the global batch (the tolerance
// and why it is not zero: docs/distributed.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/safetensors.hpp"
#include "engine/train/trainer.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/branching_net.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/thread_communicator.hpp"

namespace kestrel::train {
namespace {

class Quiet final : public TrainObserver {};

TrainConfig run_config(const test::ScratchDir& root, const std::string& name, int64_t batch) {
  TrainConfig c = default_config("lenet5", "synthetic");
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = 301;  // 3 global batches of 128, the last one 45 rows
  c.batch = batch;
  c.epochs = 2;
  c.crop_padding = 0;
  c.dist_bucket_mb = 0.03;  // several buckets
  // im2col convolutions: the ranks here are threads of one process, each training with its
  // own OpenMP team, and oneDNN's kernels hung in that setting (a barrier waiting for a team
  // member; MPI ranks are processes and --gpus ranks do not convolve on the CPU).
  c.deterministic = true;
  return c;
}

std::vector<float> saved_values(const TrainConfig& c) {
  const auto f = checkpoint::read_safetensors(c.out_dir + "/" + c.name + "/last.safetensors");
  std::vector<float> all;
  for (const auto& e : f.entries) {
    const float* p = static_cast<const float*>(e.tensor.raw_data());
    all.insert(all.end(), p, p + e.tensor.numel());
  }
  return all;
}

// run_training on `ranks` threads, each a rank of one ThreadGroup; every rank's result.
std::vector<RunResult> train_as_thread_ranks(const TrainConfig& c, int ranks,
                                             const ModelBuilder& builder = apps::model_builder()) {
  Quiet quiet;
  test::ThreadGroup group(ranks);
  std::vector<RunResult> results(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      test::ThreadCommunicator comm(group, r);
      results[static_cast<size_t>(r)] = run_training(c, builder, quiet, comm);
    });
  for (auto& t : threads) t.join();
  return results;
}

TEST(DataParallelTrainer, ThreadRanksMatchOneProcessAndOnlyRankZeroWrites) {
  test::ScratchDir root;
  Quiet quiet;
  cpu::set_num_threads(1);
  const TrainConfig one = run_config(root, "one", 128);
  ASSERT_EQ(run_training(one, apps::model_builder(), quiet).status, RunStatus::Completed);

  for (int ranks : {2, 4}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks");
    const TrainConfig dp = run_config(root, "dp" + std::to_string(ranks), 128 / ranks);
    const std::vector<RunResult> results = train_as_thread_ranks(dp, ranks);
    for (const RunResult& r : results) {
      EXPECT_EQ(r.status, RunStatus::Completed);
      EXPECT_EQ(r.epochs_done, 2);
      EXPECT_EQ(r.last_eval.samples, 1000);  // the sharded evaluation, summed
      EXPECT_EQ(r.last_eval.top1, results[0].last_eval.top1);
      EXPECT_EQ(r.last_eval.confusion.counts(), results[0].last_eval.confusion.counts());
    }
    const std::vector<float> expected = saved_values(one), got = saved_values(dp);
    ASSERT_EQ(got.size(), expected.size());
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(got[i]) - expected[i]) /
                                  (std::abs(static_cast<double>(expected[i])) + 1e-3));
    EXPECT_LT(worst, 1e-4) << "largest difference relative to |expected| + 1e-3";
  }
  cpu::set_num_threads(0);
  // One run directory per run: the other ranks wrote nothing.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(root.path()))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"dp2", "dp4", "one"}));
}

TEST(DataParallelTrainer, ABranchingModelOnThreadRanksMatchesOneProcess) {
  // The buckets fill as nodes finish their backward, in reverse insertion order, whatever the
  // topology: a residual and an Inception-style block train on 2 ranks as in one process.
  test::ScratchDir root;
  Quiet quiet;
  const ModelBuilder branching = [](const std::string&, const Shape& input, int64_t classes) {
    auto g = test::branching_net(input[0], classes);
    g->plan(input, 1, classes);  // a builder returns a planned graph
    return g;
  };
  cpu::set_num_threads(1);
  TrainConfig one = run_config(root, "one", 64);
  one.epochs = 1;
  ASSERT_EQ(run_training(one, branching, quiet).status, RunStatus::Completed);
  TrainConfig dp = run_config(root, "dp", 32);
  dp.epochs = 1;
  dp.dist_bucket_mb = 0.004;  // several buckets over its ~4,600 parameters
  for (const RunResult& r : train_as_thread_ranks(dp, 2, branching))
    EXPECT_EQ(r.status, RunStatus::Completed);
  cpu::set_num_threads(0);
  const std::vector<float> expected = saved_values(one), got = saved_values(dp);
  ASSERT_EQ(got.size(), expected.size());
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - expected[i]) /
                                (std::abs(static_cast<double>(expected[i])) + 1e-3));
  EXPECT_LT(worst, 1e-4) << "largest difference relative to |expected| + 1e-3";
}

TEST(DataParallelTrainer, EveryRankStopsAtTheTargetTogether) {
  // The target is judged on the summed (sharded) evaluation, which every rank holds the same:
  // all ranks stop after the same epoch. A rank that trained on would wait in its next
  // collective for ranks that have left (here the test would hang, not fail).
  test::ScratchDir root;
  cpu::set_num_threads(1);
  TrainConfig dp = run_config(root, "target", 64);
  dp.epochs = 3;
  dp.target_top1 = 0.01;  // reached by the first epoch's evaluation
  const std::vector<RunResult> results = train_as_thread_ranks(dp, 2);
  cpu::set_num_threads(0);
  for (const RunResult& r : results) {
    EXPECT_EQ(r.status, RunStatus::Completed);
    EXPECT_EQ(r.epochs_done, 1);
    EXPECT_EQ(r.target_epoch, 1);
    EXPECT_GT(r.seconds_to_target, 0.0);
  }
}

}  // namespace
}  // namespace kestrel::train
