// The trainer end to end, on the CPU, with the real models: it can overfit one batch, learns
// MNIST in one epoch, resumes bit-exactly, stops on divergence with a good checkpoint kept, and
// writes the metrics, config and checkpoints it promises. Most runs use the synthetic data set
// (no files needed) and a few hundred images so that the whole suite takes seconds.
#include "engine/train/trainer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/core/version.hpp"
#include "engine/data/registry.hpp"
#include "engine/run/run_directory.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/data_dir.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/train_observers.hpp"

namespace kestrel::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using run::read_metrics;

using test::InterruptAfter;
using test::Quiet;

// LeNet-5 on the first `images` synthetic training images, on the CPU, in `root`/`name`.
TrainConfig small_run(const test::ScratchDir& root, const std::string& name, int64_t images,
                      int64_t epochs) {
  TrainConfig c = default_config("lenet5", "synthetic");
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = images;
  c.batch = 64;
  c.epochs = epochs;
  return c;
}

RunResult train(const TrainConfig& c) {
  Quiet quiet;
  return run_training(c, apps::model_builder(), quiet);
}

fs::path run_file(const TrainConfig& c, const std::string& file) {
  return fs::path(c.out_dir) / c.name / file;
}

// The per-epoch records of a run (divergence events left out).
std::vector<json> epoch_records(const TrainConfig& c) {
  std::vector<json> out;
  for (json& r : read_metrics(run_file(c, "metrics.jsonl")))
    if (!r.contains("event")) out.push_back(std::move(r));
  return out;
}

// A record without its wall-clock timings, which no two runs share.
json without_timings(json r) {
  r["train"].erase("images_per_second");
  r["train"].erase("seconds");
  r["eval"].erase("seconds");
  return r;
}

// Every tensor of two checkpoints (parameters and optimizer state) has the same name, dtype,
// shape and bytes.
void expect_bitwise_equal_checkpoints(const fs::path& a, const fs::path& b) {
  const auto fa = checkpoint::read_safetensors(a.string());
  const auto fb = checkpoint::read_safetensors(b.string());
  ASSERT_EQ(fa.entries.size(), fb.entries.size());
  for (size_t i = 0; i < fa.entries.size(); ++i) {
    const auto& ea = fa.entries[i];
    const auto& eb = fb.entries[i];
    SCOPED_TRACE(ea.name);
    ASSERT_EQ(ea.name, eb.name);
    ASSERT_EQ(ea.dtype, eb.dtype);
    ASSERT_EQ(ea.shape, eb.shape);
    EXPECT_EQ(std::memcmp(ea.tensor.raw_data(), eb.tensor.raw_data(), ea.tensor.nbytes()), 0)
        << "tensor bytes differ";
  }
  EXPECT_EQ(fa.metadata.at("epoch"), fb.metadata.at("epoch"));
  EXPECT_EQ(fa.metadata.at("step"), fb.metadata.at("step"));
}

// Evaluates a checkpoint as the trainer does (same batch, same normalisation).
EvalResult evaluate_checkpoint(const TrainConfig& c, const fs::path& file) {
  const auto loaded = checkpoint::load_checkpoint(file.string());
  Context ctx(Device::cpu());
  ctx.set_math(math_options(c));  // the run's own convolution path
  const data::ImageDataset test_set = data::load_dataset(c.dataset, "test", c.data_dir);
  auto graph = apps::model_builder()(
      c.model, Shape{test_set.channels(), test_set.height(), test_set.width()}, test_set.classes);
  graph->build(ctx, c.batch);
  checkpoint::NamedTensors params;
  for (const auto& p : graph->named_parameters()) params.emplace_back(p.name, p.tensor);
  checkpoint::restore_parameters(loaded, params, c.model);
  data::BatchLoader loader(
      test_set, ctx,
      data::LoaderOptions::for_evaluation(c.batch, data::dataset_normalization(c.dataset)));
  return evaluate(ctx, *graph, loader, test_set.classes);
}

// 64 images, one batch of 64 per epoch, 100 epochs of plain Adam at a constant rate.
TrainConfig overfit_one_batch(const test::ScratchDir& root, const std::string& name) {
  TrainConfig c = small_run(root, name, 64, 100);
  c.optimizer = "adam";
  c.lr = 2e-3f;
  c.weight_decay = 0.0f;
  c.schedule = ScheduleKind::Constant;
  c.crop_padding = 0;
  return c;
}

TEST(Trainer, OverfitsOneBatch) {
  // 100 steps on one batch must drive the training loss to (nearly) zero, or gradients or
  // updates are wrong somewhere.
  test::ScratchDir root;
  const TrainConfig c = overfit_one_batch(root, "overfit");
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  const auto records = epoch_records(c);
  ASSERT_EQ(records.size(), 100u);
  EXPECT_GT(records.front()["train"]["loss"].get<double>(), 2.0);  // ln(10) = 2.30 at the start
  EXPECT_LT(records.back()["train"]["loss"].get<double>(), 0.01);
  EXPECT_EQ(records.back()["train"]["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(records.back()["step"].get<int64_t>(), 100);
}

TEST(Trainer, Bf16OperandsStillOverfitOneBatchAndChangeTheRun) {
  // The same 100 steps with bf16 operands (emulated on the CPU): the f32 master weights still
  // take the loss to (nearly) zero; and the first epoch already differs from an f32 run's.
  test::ScratchDir root;
  TrainConfig c = overfit_one_batch(root, "overfit-bf16");
  c.bf16 = true;
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  const auto records = epoch_records(c);
  ASSERT_EQ(records.size(), 100u);
  EXPECT_GT(records.front()["train"]["loss"].get<double>(), 2.0);
  EXPECT_LT(records.back()["train"]["loss"].get<double>(), 0.02);
  EXPECT_EQ(records.back()["train"]["accuracy"].get<double>(), 1.0);

  TrainConfig f32 = c;
  f32.name = "overfit-f32";
  f32.bf16 = false;
  f32.epochs = 1;
  ASSERT_EQ(train(f32).status, RunStatus::Completed);
  EXPECT_NE(epoch_records(f32)[0]["train"]["loss"].get<double>(),
            records[0]["train"]["loss"].get<double>());
}

TEST(Trainer, OneEpochOfLenet5OnMnistReaches97Percent) {
  KESTREL_REQUIRE_DATA(dir, "mnist", "mnist");
  test::ScratchDir root;
  TrainConfig c = default_config("lenet5", "mnist");
  c.data_dir = dir;
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = "mnist";
  c.epochs = 1;
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  EXPECT_EQ(r.last_eval.samples, 10000);
  EXPECT_GE(r.last_eval.top1, 0.97);
  const auto records = epoch_records(c);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["eval"]["top1"].get<double>(), r.last_eval.top1);
}

TEST(Trainer, ResumeAfterAnInterruptionIsBitExact) {
  // The recipe (one-cycle AdamW, random crops) over 4 epochs, once straight through and once
  // interrupted after epoch 2 and resumed from last.safetensors.
  test::ScratchDir root;
  const TrainConfig straight = small_run(root, "straight", 512, 4);
  ASSERT_EQ(straight.crop_padding, 2);
  ASSERT_EQ(straight.schedule, ScheduleKind::OneCycle);
  ASSERT_EQ(train(straight).status, RunStatus::Completed);

  TrainConfig resumed = small_run(root, "resumed", 512, 4);
  InterruptAfter interrupt(2);
  EXPECT_THROW(run_training(resumed, apps::model_builder(), interrupt), std::runtime_error);
  ASSERT_EQ(epoch_records(resumed).size(), 2u);
  resumed.resume = run_file(resumed, "last.safetensors").string();
  const RunResult r = train(resumed);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  EXPECT_EQ(r.epochs_done, 4);

  expect_bitwise_equal_checkpoints(run_file(straight, "last.safetensors"),
                                   run_file(resumed, "last.safetensors"));
  expect_bitwise_equal_checkpoints(run_file(straight, "best.safetensors"),
                                   run_file(resumed, "best.safetensors"));
  const auto a = epoch_records(straight);
  const auto b = epoch_records(resumed);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t e = 0; e < 4; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    EXPECT_EQ(without_timings(a[e]), without_timings(b[e]));
  }
}

TEST(Trainer, ExtendingAFinishedRunIsBitExact) {
  // SGD with Nesterov momentum at a constant rate (so the schedule does not depend on the
  // epoch count): 2 epochs, then resumed with epochs = 4, equals 4 epochs straight.
  test::ScratchDir root;
  const auto sgd = [&](const std::string& name, int64_t epochs) {
    TrainConfig c = small_run(root, name, 512, epochs);
    c.optimizer = "sgd";
    c.lr = 0.05f;
    c.schedule = ScheduleKind::Constant;
    return c;
  };
  const TrainConfig straight = sgd("straight", 4);
  ASSERT_EQ(train(straight).status, RunStatus::Completed);
  TrainConfig resumed = sgd("resumed", 2);
  ASSERT_EQ(train(resumed).status, RunStatus::Completed);
  resumed.epochs = 4;
  resumed.resume = run_file(resumed, "last.safetensors").string();
  ASSERT_EQ(train(resumed).status, RunStatus::Completed);

  expect_bitwise_equal_checkpoints(run_file(straight, "last.safetensors"),
                                   run_file(resumed, "last.safetensors"));
  const auto a = epoch_records(straight);
  const auto b = epoch_records(resumed);
  ASSERT_EQ(b.size(), 4u);
  for (size_t e = 2; e < 4; ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    EXPECT_EQ(without_timings(a[e]), without_timings(b[e]));
  }
}

TEST(Trainer, ResumingACompletedRunAsksForMoreEpochs) {
  test::ScratchDir root;
  TrainConfig c = small_run(root, "done", 128, 1);
  ASSERT_EQ(train(c).status, RunStatus::Completed);
  c.resume = run_file(c, "last.safetensors").string();
  try {
    train(c);
    FAIL() << "resuming a completed run should throw";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("already completed 1 of 1 epochs"), std::string::npos)
        << e.message();
  }
}

// The target_reached events of a run.
std::vector<json> target_events(const TrainConfig& c) {
  std::vector<json> out;
  for (json& r : read_metrics(run_file(c, "metrics.jsonl")))
    if (r.value("event", "") == "target_reached") out.push_back(std::move(r));
  return out;
}

double summed_train_seconds(const std::vector<json>& records) {
  double s = 0.0;
  for (const json& r : records) s += r["train"]["seconds"].get<double>();
  return s;
}

TEST(Trainer, StopsAtTheTargetAccuracyWithTheTimeToIt) {
  // Four epochs straight through give the per-epoch accuracies; the target is the best of the
  // first two, so the targeted run must stop at the epoch that first reached it (1 or 2), with
  // the same records up to there, and say how long its training steps took.
  test::ScratchDir root;
  const TrainConfig straight = small_run(root, "straight", 512, 4);
  ASSERT_EQ(train(straight).status, RunStatus::Completed);
  const auto all = epoch_records(straight);
  ASSERT_EQ(all.size(), 4u);
  const double top1_1 = all[0]["eval"]["top1"], top1_2 = all[1]["eval"]["top1"];
  const double target = std::max(top1_1, top1_2);
  const size_t first = top1_1 >= target ? 1 : 2;

  TrainConfig targeted = small_run(root, "targeted", 512, 4);
  targeted.target_top1 = target;
  const RunResult r = train(targeted);
  ASSERT_EQ(r.status, RunStatus::Completed);
  EXPECT_EQ(r.epochs_done, static_cast<int64_t>(first));
  EXPECT_EQ(r.target_epoch, static_cast<int64_t>(first));
  EXPECT_DOUBLE_EQ(r.target_top1, target);
  const auto records = epoch_records(targeted);
  ASSERT_EQ(records.size(), first);
  for (size_t e = 0; e < first; ++e)
    EXPECT_EQ(without_timings(records[e]), without_timings(all[e]));
  EXPECT_NEAR(r.seconds_to_target, summed_train_seconds(records), 1e-9);
  EXPECT_DOUBLE_EQ(r.seconds_to_target, r.run_train_seconds);
  const auto events = target_events(targeted);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["epoch"], first);
  EXPECT_EQ(events[0]["top1"].get<double>(), target);
  EXPECT_EQ(events[0]["target_top1"].get<double>(), target);
  EXPECT_DOUBLE_EQ(events[0]["train_seconds"].get<double>(), r.seconds_to_target);
  // The checkpoint is the epoch that reached it.
  EXPECT_EQ(
      checkpoint::load_checkpoint(run_file(targeted, "last.safetensors").string()).state.epoch,
      static_cast<int64_t>(first));

  // A target no epoch reaches: every epoch trains, and the result says none reached it.
  const double best = std::max(
      {top1_1, top1_2, all[2]["eval"]["top1"].get<double>(), all[3]["eval"]["top1"].get<double>()});
  if (best < 1.0) {
    TrainConfig missed = small_run(root, "missed", 512, 4);
    missed.target_top1 = std::nextafter(best, 2.0);
    const RunResult m = train(missed);
    EXPECT_EQ(m.epochs_done, 4);
    EXPECT_EQ(m.target_epoch, 0);
    EXPECT_TRUE(target_events(missed).empty());
  }
}

TEST(Trainer, TimeToTheTargetCountsTheEpochsOfTheRunItResumed) {
  // A run with a target it reaches only at a later epoch, interrupted before it: the resumed
  // invocation's time to the target includes the first invocation's training.
  test::ScratchDir root;
  const TrainConfig straight = small_run(root, "straight", 512, 3);
  ASSERT_EQ(train(straight).status, RunStatus::Completed);
  const auto all = epoch_records(straight);
  const double top1_1 = all[0]["eval"]["top1"];
  size_t later = 0;  // the first epoch after the first that is better than every one before
  double best_before = top1_1;
  for (size_t e = 1; e < all.size() && later == 0; ++e) {
    if (all[e]["eval"]["top1"].get<double>() > best_before) later = e + 1;
    best_before = std::max(best_before, all[e]["eval"]["top1"].get<double>());
  }
  if (later == 0) GTEST_SKIP() << "no epoch after the first improved on it";

  TrainConfig c = small_run(root, "resumed", 512, 3);
  c.target_top1 = all[later - 1]["eval"]["top1"];
  InterruptAfter interrupt(1);
  EXPECT_THROW(run_training(c, apps::model_builder(), interrupt), std::runtime_error);
  c.resume = run_file(c, "last.safetensors").string();
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  EXPECT_EQ(r.target_epoch, static_cast<int64_t>(later));
  const auto records = epoch_records(c);
  ASSERT_EQ(records.size(), later);
  EXPECT_NEAR(r.seconds_to_target, summed_train_seconds(records), 1e-9);
  EXPECT_GT(r.seconds_to_target, r.train_seconds);  // more than this invocation's own

  // Resuming a run that stopped at its target asks for another target (or none).
  try {
    train(c);
    FAIL() << "resuming a run that reached its target should throw";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("the run stopped at its target"), std::string::npos) << e.message();
  }
  c.target_top1 = 0.0;
  const RunResult on = train(c);
  EXPECT_EQ(on.epochs_done, 3);
  EXPECT_EQ(on.target_epoch, 0);
}

void expect_finite_checkpoint(const fs::path& file, int64_t epoch) {
  const auto loaded = checkpoint::load_checkpoint(file.string());
  EXPECT_EQ(loaded.state.epoch, epoch);
  for (const auto& entry : loaded.file.entries) {
    if (entry.dtype != DType::F32) continue;
    for (float v : entry.tensor.to_vector()) {
      ASSERT_TRUE(std::isfinite(v)) << entry.name << " holds " << v;
    }
  }
}

TEST(Trainer, DivergenceInTrainingStopsWithTheResumedCheckpointNamed) {
  // One sane epoch, then resumed at an absurd rate: within the second epoch's 16 steps the
  // loss turns non-finite.
  test::ScratchDir root;
  TrainConfig c = small_run(root, "nan", 256, 1);
  c.batch = 16;
  c.optimizer = "sgd";
  c.lr = 0.01f;
  c.schedule = ScheduleKind::Constant;
  ASSERT_EQ(train(c).status, RunStatus::Completed);
  const fs::path last = run_file(c, "last.safetensors");
  const std::string good_bytes = test::read_file(last.string());

  c.epochs = 3;
  c.lr = 1e6f;
  c.resume = last.string();
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Diverged);
  EXPECT_EQ(r.epochs_done, 1);
  EXPECT_NE(r.message.find("training loss became"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("epoch 2"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("the last good checkpoint is " + last.string()), std::string::npos)
      << r.message;

  const auto records = read_metrics(run_file(c, "metrics.jsonl"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["event"], "diverged");
  EXPECT_EQ(records[1]["what"], "training loss");
  EXPECT_EQ(records[1]["epoch"], 2);
  // The good checkpoint is untouched and loads with finite values.
  EXPECT_EQ(test::read_file(last.string()), good_bytes);
  expect_finite_checkpoint(last, 1);
}

TEST(Trainer, WeightsThatOverflowAtAnEpochsEndAreNotSaved) {
  // One step per epoch at lr 1e6: epoch 1's step has a finite loss but blows the weights up to
  // ~1e23; epoch 2's finite-loss step turns them into a model whose evaluation loss is NaN.
  // That model must not become last.safetensors: epoch 1's stays, and is finite.
  test::ScratchDir root;
  TrainConfig c = small_run(root, "overflow", 64, 3);
  c.optimizer = "sgd";
  c.lr = 1e6f;
  c.schedule = ScheduleKind::Constant;
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Diverged);
  EXPECT_EQ(r.epochs_done, 1);
  EXPECT_NE(
      r.message.find("the last good checkpoint is " + run_file(c, "last.safetensors").string()),
      std::string::npos)
      << r.message;
  const auto records = read_metrics(run_file(c, "metrics.jsonl"));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["event"], "diverged");
  EXPECT_EQ(records[1]["epoch"], 2);
  expect_finite_checkpoint(run_file(c, "last.safetensors"), 1);
}

TEST(Trainer, DivergenceInTheFirstEpochSaysThereIsNoCheckpoint) {
  test::ScratchDir root;
  TrainConfig c = small_run(root, "early", 256, 2);
  c.optimizer = "sgd";
  c.lr = 1e6f;
  c.schedule = ScheduleKind::Constant;
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Diverged);
  EXPECT_EQ(r.epochs_done, 0);
  EXPECT_NE(r.message.find("no checkpoint"), std::string::npos) << r.message;
  EXPECT_FALSE(fs::exists(run_file(c, "last.safetensors")));
  const auto records = read_metrics(run_file(c, "metrics.jsonl"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["event"], "diverged");
}

// Counts the progress reports (one per ledger read).
class CountSteps final : public TrainObserver {
 public:
  void on_step(const StepProgress& p) override { batches.push_back(p.batch); }
  std::vector<int64_t> batches;
};

TEST(Trainer, ReadingTheLossBackRarelyChangesNothingButTheReports) {
  // 256 images at batch 16: 16 steps an epoch. The ledger read every step, every 7 steps and
  // never before an epoch's end must give the same run, bit for bit.
  test::ScratchDir root;
  std::vector<TrainConfig> runs;
  std::vector<std::vector<int64_t>> reports;
  for (int64_t every : {1, 7, 1000}) {
    TrainConfig c = small_run(root, "sync" + std::to_string(every), 256, 2);
    c.batch = 16;
    c.sync_every = every;
    CountSteps counter;
    ASSERT_EQ(run_training(c, apps::model_builder(), counter).status, RunStatus::Completed);
    runs.push_back(c);
    reports.push_back(counter.batches);
  }
  EXPECT_EQ(reports[0].size(), 32u);
  EXPECT_EQ(reports[1], (std::vector<int64_t>{7, 14, 16, 7, 14, 16}));
  EXPECT_EQ(reports[2], (std::vector<int64_t>{16, 16}));
  for (size_t i = 1; i < runs.size(); ++i) {
    SCOPED_TRACE(runs[i].name);
    expect_bitwise_equal_checkpoints(run_file(runs[0], "last.safetensors"),
                                     run_file(runs[i], "last.safetensors"));
    const auto a = epoch_records(runs[0]), b = epoch_records(runs[i]);
    ASSERT_EQ(a.size(), 2u);
    ASSERT_EQ(b.size(), 2u);
    for (size_t e = 0; e < a.size(); ++e) EXPECT_EQ(without_timings(a[e]), without_timings(b[e]));
  }
}

TEST(Trainer, ADivergenceReadLateNamesTheFirstBadStep) {
  // The loss turns non-finite early in the first epoch at lr 1e6 (at step 7 on x86-64); read
  // back only every 5 steps, the run must still name that step and its rate.
  test::ScratchDir root;
  std::vector<RunResult> results;
  std::vector<json> events;
  for (int64_t every : {1, 5}) {
    TrainConfig c = small_run(root, "late" + std::to_string(every), 256, 2);
    c.batch = 16;
    c.optimizer = "sgd";
    c.lr = 1e6f;
    c.schedule = ScheduleKind::Constant;
    c.sync_every = every;
    results.push_back(train(c));
    const auto records = read_metrics(run_file(c, "metrics.jsonl"));
    ASSERT_EQ(records.size(), 1u);
    events.push_back(records[0]);
  }
  ASSERT_EQ(results[0].status, RunStatus::Diverged);
  ASSERT_EQ(results[1].status, RunStatus::Diverged);
  EXPECT_EQ(results[0].message, results[1].message);
  EXPECT_EQ(events[0], events[1]);
  EXPECT_EQ(events[0]["event"], "diverged");
}

TEST(Trainer, BestCheckpointHoldsTheBestEpoch) {
  // SGD at a high constant rate, where accuracy moves around between epochs: here (seed 0,
  // x86-64 OpenBLAS) epoch 3 is the best and epoch 4 a little worse. Other floating-point
  // kernels may order them differently; the checks hold either way.
  test::ScratchDir root;
  TrainConfig c = small_run(root, "best", 256, 4);
  c.optimizer = "sgd";
  c.lr = 0.3f;
  c.schedule = ScheduleKind::Constant;
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  const auto records = epoch_records(c);
  ASSERT_EQ(records.size(), 4u);
  // An epoch is marked best when it beats every earlier one (the first always is).
  size_t best = 0;
  double best_so_far = -1.0;
  for (size_t e = 0; e < records.size(); ++e) {
    const double top1 = records[e]["eval"]["top1"].get<double>();
    EXPECT_EQ(records[e]["best"].get<bool>(), top1 > best_so_far) << "epoch " << e + 1;
    if (top1 > best_so_far) best_so_far = top1, best = e;
  }
  EXPECT_EQ(r.best_epoch, static_cast<int64_t>(best) + 1);
  EXPECT_EQ(r.best_top1, records[best]["eval"]["top1"].get<double>());

  const auto loaded = checkpoint::load_checkpoint(run_file(c, "best.safetensors").string());
  EXPECT_EQ(loaded.state.epoch, static_cast<int64_t>(best) + 1);
  // Re-evaluating the saved weights gives that epoch's numbers exactly; last.safetensors gives
  // the last epoch's.
  const EvalResult best_eval = evaluate_checkpoint(c, run_file(c, "best.safetensors"));
  EXPECT_EQ(best_eval.top1, records[best]["eval"]["top1"].get<double>());
  EXPECT_EQ(best_eval.loss, records[best]["eval"]["loss"].get<double>());
  const EvalResult last_eval = evaluate_checkpoint(c, run_file(c, "last.safetensors"));
  EXPECT_EQ(last_eval.top1, records.back()["eval"]["top1"].get<double>());
  EXPECT_EQ(last_eval.loss, records.back()["eval"]["loss"].get<double>());
}

TEST(Trainer, MetricsHoldOneCompleteRecordPerEpoch) {
  test::ScratchDir root;
  const TrainConfig c = small_run(root, "metrics", 200, 2);
  const RunResult r = train(c);
  ASSERT_EQ(r.status, RunStatus::Completed) << r.message;
  const auto records = read_metrics(run_file(c, "metrics.jsonl"));
  ASSERT_EQ(records.size(), 2u);
  for (size_t e = 0; e < records.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    const json& rec = records[e];
    EXPECT_EQ(rec["epoch"], static_cast<int64_t>(e) + 1);
    EXPECT_EQ(rec["step"], 4 * (static_cast<int64_t>(e) + 1));  // ceil(200 / 64) per epoch
    EXPECT_GT(rec["lr"].get<double>(), 0.0);
    EXPECT_TRUE(rec["best"].is_boolean());
    const json& tr = rec["train"];
    EXPECT_TRUE(std::isfinite(tr["loss"].get<double>()));
    EXPECT_GE(tr["accuracy"].get<double>(), 0.0);
    EXPECT_LE(tr["accuracy"].get<double>(), 1.0);
    EXPECT_GT(tr["images_per_second"].get<double>(), 0.0);
    const json& ev = rec["eval"];
    EXPECT_EQ(ev["samples"], data::kSyntheticTestSize);
    EXPECT_TRUE(std::isfinite(ev["loss"].get<double>()));
    const double top1 = ev["top1"].get<double>();
    EXPECT_GE(ev["top5"].get<double>(), top1);
    // The confusion matrix: 10 x 10, every test image once, its diagonal the top-1 accuracy.
    const json& m = ev["confusion"];
    ASSERT_EQ(m.size(), 10u);
    int64_t total = 0, diagonal = 0;
    std::vector<int64_t> column(10, 0);
    for (size_t t = 0; t < 10; ++t) {
      ASSERT_EQ(m[t].size(), 10u);
      for (size_t p = 0; p < 10; ++p) {
        total += m[t][p].get<int64_t>();
        column[p] += m[t][p].get<int64_t>();
      }
      diagonal += m[t][t].get<int64_t>();
    }
    EXPECT_EQ(total, data::kSyntheticTestSize);
    EXPECT_DOUBLE_EQ(top1, static_cast<double>(diagonal) / static_cast<double>(total));
    // Per class: precision = diagonal / column, recall = diagonal / row, F1 their harmonic
    // mean; macro-F1 the mean of the F1s.
    const json& per_class = ev["per_class"];
    ASSERT_EQ(per_class.size(), 10u);
    double f1_sum = 0.0;
    for (size_t k = 0; k < 10; ++k) {
      const json& pc = per_class[k];
      const double tp = m[k][k].get<double>();
      const double support = pc["support"].get<double>();
      int64_t row = 0;
      for (size_t p = 0; p < 10; ++p) row += m[k][p].get<int64_t>();
      EXPECT_EQ(pc["support"].get<int64_t>(), row);
      const double precision = column[k] > 0 ? tp / static_cast<double>(column[k]) : 0.0;
      const double recall = support > 0 ? tp / support : 0.0;
      const double f1 =
          precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      EXPECT_NEAR(pc["precision"].get<double>(), precision, 1e-12);
      EXPECT_NEAR(pc["recall"].get<double>(), recall, 1e-12);
      EXPECT_NEAR(pc["f1"].get<double>(), f1, 1e-12);
      f1_sum += pc["f1"].get<double>();
    }
    EXPECT_NEAR(ev["macro_f1"].get<double>(), f1_sum / 10.0, 1e-12);
  }
  EXPECT_EQ(records.back()["eval"]["top1"].get<double>(), r.last_eval.top1);
}

TEST(Trainer, ConfigJsonRoundTripsThroughTrainConfig) {
  test::ScratchDir root;
  TrainConfig c = small_run(root, "config", 64, 1);
  // Values away from the recipe's, so that a field that is not written or read shows.
  c.optimizer = "sgd";
  c.lr = 0.0123f;
  c.momentum = 0.85f;
  c.nesterov = false;
  c.weight_decay = 1e-4f;
  c.schedule = ScheduleKind::Cosine;
  c.warmup_epochs = 0;
  c.label_smoothing = 0.05f;
  c.clip_norm = 2.5f;
  c.crop_padding = 3;
  c.crop_padding_mode = data::PaddingMode::Reflect;
  c.hflip = true;
  c.alternate_flip = true;
  c.lab_normalization = true;
  c.drop_last = true;
  c.seed = 77;
  c.deterministic = true;
  c.bf16 = true;
  c.target_top1 = 0.999;
  c.param_groups = {{"conv1.*", 0.5, 0.0, 1}, {"fc*.bias", 2.0, 0.25, 0}};
  ASSERT_EQ(train(c).status, RunStatus::Completed);

  std::ifstream in(run_file(c, "config.json"));
  const json written = json::parse(in);
  EXPECT_EQ(written["device_resolved"], "cpu");
  EXPECT_EQ(written["kestrel_version"], version());
  EXPECT_EQ(written["kestrel_commit"], commit());
  EXPECT_EQ(written["world_size"], 1);  // one process: the local communicator
  EXPECT_EQ(written["global_batch"], c.batch);
  EXPECT_EQ(written["dist_backend"], "local");
  const TrainConfig back = TrainConfig::from_json(written);
  EXPECT_EQ(back.to_json(), c.to_json());
  json without_extras = written;
  for (const char* key : {"device_resolved", "kestrel_version", "kestrel_commit", "world_size",
                          "global_batch", "dist_backend"})
    without_extras.erase(key);
  EXPECT_EQ(without_extras, c.to_json());
  EXPECT_EQ(back.param_groups, c.param_groups);
  EXPECT_EQ(written["param_groups"][0]["pattern"], "conv1.*");
  EXPECT_EQ(written["param_groups"][1]["weight_decay_scale"], 0.25);
  // The config.json of a run from before the rules (and its checkpoints') still loads.
  json old = written;
  old.erase("param_groups");
  EXPECT_TRUE(TrainConfig::from_json(old).param_groups.empty());
}

TEST(TrainConfig, ReadsConfigsWrittenBeforeTheAugmentationModes) {
  // A config.json (or checkpoint) from before crop_padding_mode and alternate_flip: zero
  // padding and independent flips, as those runs had; an unknown mode is an error naming it.
  TrainConfig c = default_config("resnet20", "cifar10");
  c.crop_padding_mode = data::PaddingMode::Reflect;
  c.alternate_flip = true;
  json old = c.to_json();
  EXPECT_EQ(old["crop_padding_mode"], "reflect");
  EXPECT_EQ(old["alternate_flip"], true);
  old.erase("crop_padding_mode");
  old.erase("alternate_flip");
  const TrainConfig back = TrainConfig::from_json(old);
  EXPECT_EQ(back.crop_padding_mode, data::PaddingMode::Zero);
  EXPECT_FALSE(back.alternate_flip);
  EXPECT_TRUE(back.hflip);
  EXPECT_EQ(back.crop_padding, 4);
  json bad = c.to_json();
  bad["crop_padding_mode"] = "wrap";
  try {
    TrainConfig::from_json(bad);
    ADD_FAILURE() << "accepted crop_padding_mode 'wrap'";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("crop padding mode 'wrap' is not one of zero, reflect"),
              std::string::npos)
        << e.message();
  }
}

TEST(Trainer, RejectsConfigurationsThatCannotRun) {
  test::ScratchDir root;
  const auto expect_error = [&](TrainConfig c, const std::string& needle) {
    try {
      train(c);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
    }
  };
  TrainConfig c = small_run(root, "bad", 64, 1);
  TrainConfig bad = c;
  bad.epochs = 0;
  expect_error(bad, "--epochs must be at least 1, got 0");
  bad = c;
  bad.batch = 0;
  expect_error(bad, "--batch must be in [1, 65536], got 0");
  bad = c;
  bad.optimizer = "rmsprop";
  expect_error(bad, "unknown optimizer 'rmsprop'");
  bad = c;
  bad.dataset = "mnist";
  bad.data_dir = root.file("no-such-dir");
  expect_error(bad, "run scripts/fetch-data.sh mnist");
  bad = c;
  bad.graph = "on";
  expect_error(bad, "--graph on needs a GPU and a single process (here: cpu, 1 rank(s), local)");
  bad = c;
  bad.graph = "maybe";
  expect_error(bad, "--graph must be auto, on or off");
  bad = c;
  bad.sync_every = -1;
  expect_error(bad, "--sync-every must be >= 0");
  bad = c;
  bad.tf32 = bad.bf16 = true;
  expect_error(bad, "--tf32 and --bf16 are two precisions for the same products: choose one");
  bad = c;
  bad.target_top1 = 1.5;
  expect_error(bad, "--target-accuracy must be in [0, 100] percent, got 150");
  bad = c;
  bad.device = "cuda:7";
  expect_error(bad, "cuda:7");
  bad = c;
  bad.param_groups = {{"conv1.*"}, {"conv9.*"}};
  expect_error(bad, "parameter group pattern 'conv9.*' matches no trainable parameter");
  bad = c;
  bad.param_groups = {{"conv1.*", -1.0}};
  expect_error(bad, "parameter group rule 'conv1.*:lr=-1,wd=1,epochs=0'");
  bad = c;
  bad.no_decay_norm_bias = true;
  bad.param_groups = {{"conv1.*"}, {"conv2.*"}, {"fc1.*"}};
  expect_error(bad, "3 parameter group rule(s) make 5 groups, more than the 4 supported");
  // Nothing was created for the runs that could not start.
  EXPECT_FALSE(fs::exists(run_file(c, "metrics.jsonl")));

  // A run directory that holds a run is not reused without resume.
  ASSERT_EQ(train(c).status, RunStatus::Completed);
  expect_error(c, "already holds a run");
}

}  // namespace
}  // namespace kestrel::train
