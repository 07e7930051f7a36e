// The recipe conventions end to end on the CPU: weight-decay groups (--no-decay-norm-bias) and
// the moving average of the weights (--ema). The groups' index follows timm's rule on the real
// models, and with both groups at full decay LeNet-5's and AlexNet's steps are bit for bit those
// without groups; an EMA run resumed after epoch 1 ends with the bits of the straight run; its
// checkpoint holds the average under ema.* and evaluating that average (and the raw weights)
// reproduces the epoch's recorded figures exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/data/registry.hpp"
#include "engine/nn/param_groups.hpp"
#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/run/run_directory.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "engine/train/trainer.hpp"
#include "models/registry.hpp"
#include "tests/support/random.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/train_observers.hpp"

namespace kestrel::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::InterruptAfter;
using test::Quiet;

TEST(WeightDecayGroups, ExemptExactlyTheParametersOfAtMostOneDimension) {
  auto graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  Context ctx;
  graph->build(ctx, 2);
  const Tensor index = nn::weight_decay_group_index(*graph, Device::cpu());
  ASSERT_EQ(index.numel(), graph->parameters().numel());
  const uint8_t* g = index.data<uint8_t>();
  int64_t exempt = 0, checked = 0;
  for (const nn::ParamInfo& p : graph->parameter_infos()) {
    const bool bias = p.name.ends_with(".bias");
    EXPECT_EQ(nn::exempt_from_weight_decay(p), bias) << p.name;
    for (int64_t i = 0; i < p.shape.numel(); ++i)
      ASSERT_EQ(g[p.offset + i], bias ? nn::kNoDecayGroup : nn::kDecayGroup) << p.name;
    if (bias) exempt += p.shape.numel();
    checked += p.shape.numel();
  }
  EXPECT_EQ(checked, graph->parameter_count());
  int64_t counted = 0;
  for (int64_t i = 0; i < index.numel(); ++i) counted += g[i] == nn::kNoDecayGroup;
  EXPECT_EQ(counted, exempt);  // the padding stays in the decay group
}

// Steps of `model` with the real group index at scales {1, 1} (every element decayed, as
// without groups) against steps without groups: the same bits.
template <class Opt, class Options>
void expect_groups_at_full_decay_are_bitwise_no_groups(const std::string& model,
                                                       const models::ModelInput& in,
                                                       const Options& options) {
  SCOPED_TRACE(model);
  std::mt19937_64 gen(test::test_seed());
  Context ctx;
  const int64_t batch = 4;
  auto graph = models::build_model(model, in);
  graph->build(ctx, batch);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, 5);
  const Tensor start = graph->parameters().to(Device::cpu());
  std::vector<Tensor> images, labels;
  for (int s = 0; s < 3; ++s) {
    images.push_back(test::random_tensor(Shape{batch, in.channels, in.height, in.width}, gen));
    labels.push_back(test::random_labels(batch, static_cast<int32_t>(in.classes), gen));
  }
  Tensor dlogits = Tensor::empty(Shape{batch, in.classes});
  std::vector<float> results[2];
  for (int grouped = 0; grouped < 2; ++grouped) {
    graph->parameters().copy_from(start);
    Opt opt(options);
    if (grouped == 1)
      opt.set_param_groups({nn::weight_decay_group_index(*graph, Device::cpu()), {1.0, 1.0}});
    StepLedger ledger(ctx);
    for (int s = 0; s < 3; ++s)
      train_step(ctx, *graph, opt, images[s], labels[s], s, dlogits, ledger);
    results[grouped] = graph->parameters().to_vector();
  }
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0);
}

TEST(WeightDecayGroups, FullDecayInBothGroupsIsBitwiseTheUngroupedStep) {
  expect_groups_at_full_decay_are_bitwise_no_groups<optim::Adam>(
      "lenet5", models::ModelInput{1, 28, 28, 10}, optim::AdamOptions::adamw(3e-3f, 5e-4f));
  optim::SgdOptions sgd;
  sgd.lr = 0.01f;
  sgd.momentum = 0.9f;
  sgd.nesterov = true;
  sgd.weight_decay = 5e-4f;
  expect_groups_at_full_decay_are_bitwise_no_groups<optim::Sgd>(
      "alexnet", models::ModelInput{3, 32, 32, 10}, sgd);
}

TrainConfig small_run(const test::ScratchDir& root, const std::string& name, int64_t epochs) {
  TrainConfig c = default_config("lenet5", "synthetic");
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = 256;
  c.batch = 64;
  c.epochs = epochs;
  c.ema_decay = 0.9;
  c.no_decay_norm_bias = true;
  return c;
}

RunResult train(const TrainConfig& c) {
  Quiet quiet;
  return run_training(c, apps::model_builder(), quiet);
}

fs::path run_file(const TrainConfig& c, const std::string& file) {
  return fs::path(c.out_dir) / c.name / file;
}

std::vector<json> epoch_records(const TrainConfig& c) {
  std::vector<json> out;
  for (json& r : run::read_metrics(run_file(c, "metrics.jsonl")))
    if (!r.contains("event")) out.push_back(std::move(r));
  return out;
}

json without_timings(json r) {
  r["train"].erase("images_per_second");
  r["train"].erase("seconds");
  r["eval"].erase("seconds");
  r["eval_raw"].erase("seconds");
  return r;
}

TEST(TrainerEma, ResumedRunEndsWithTheBitsOfTheStraightOne) {
  test::ScratchDir root;
  const TrainConfig straight = small_run(root, "straight", 2);
  ASSERT_EQ(train(straight).status, RunStatus::Completed);
  TrainConfig resumed = small_run(root, "resumed", 2);
  InterruptAfter interrupt(1);
  EXPECT_THROW(run_training(resumed, apps::model_builder(), interrupt), std::runtime_error);
  resumed.resume = run_file(resumed, "last.safetensors").string();
  ASSERT_EQ(train(resumed).status, RunStatus::Completed);

  const auto a = checkpoint::load_checkpoint(run_file(straight, "last.safetensors").string());
  const auto b = checkpoint::load_checkpoint(run_file(resumed, "last.safetensors").string());
  ASSERT_EQ(a.file.entries.size(), b.file.entries.size());
  int averaged = 0;
  for (size_t i = 0; i < a.file.entries.size(); ++i) {
    const auto& ea = a.file.entries[i];
    const auto& eb = b.file.entries[i];
    SCOPED_TRACE(ea.name);
    ASSERT_EQ(ea.name, eb.name);
    ASSERT_EQ(ea.tensor.nbytes(), eb.tensor.nbytes());
    EXPECT_EQ(std::memcmp(ea.tensor.raw_data(), eb.tensor.raw_data(), ea.tensor.nbytes()), 0);
    averaged += ea.name.starts_with(checkpoint::kEmaPrefix);
  }
  EXPECT_EQ(averaged, 10);                          // LeNet-5's ten parameters
  EXPECT_EQ(a.state.extra.at("ema.updates"), "8");  // 2 epochs of 4 batches
  EXPECT_EQ(b.state.extra.at("ema.updates"), "8");
  const auto ra = epoch_records(straight), rb = epoch_records(resumed);
  ASSERT_EQ(ra.size(), 2u);
  ASSERT_EQ(rb.size(), 2u);
  EXPECT_EQ(without_timings(ra[1]), without_timings(rb[1]));
  const json config = json::parse(std::ifstream(run_file(straight, "config.json")));
  EXPECT_EQ(config.at("ema_decay"), 0.9);
  EXPECT_EQ(config.at("no_decay_norm_bias"), true);
}

// Evaluates `file` as `kestrel eval` does: averaged weights when `ema`, else the raw ones.
EvalResult evaluate_checkpoint(const TrainConfig& c, const fs::path& file, bool ema) {
  const auto loaded = checkpoint::load_checkpoint(file.string());
  Context ctx(Device::cpu());
  ctx.set_math(math_options(c));  // the run's own convolution path
  const data::ImageDataset test_set = data::load_dataset(c.dataset, "test", c.data_dir);
  auto graph = apps::model_builder()(
      c.model, Shape{test_set.channels(), test_set.height(), test_set.width()}, test_set.classes);
  graph->build(ctx, c.batch);
  checkpoint::NamedTensors all, trainable;
  for (const auto& p : graph->state_dict()) all.emplace_back(p.name, p.tensor);
  for (const auto& p : graph->named_parameters()) trainable.emplace_back(p.name, p.tensor);
  checkpoint::restore_parameters(loaded, all, c.model);
  if (ema) checkpoint::restore_ema(loaded, trainable);
  data::BatchLoader loader(
      test_set, ctx,
      data::LoaderOptions::for_evaluation(c.batch, data::dataset_normalization(c.dataset)));
  return evaluate(ctx, *graph, loader, test_set.classes);
}

TEST(TrainerEma, CheckpointRoundTripReproducesBothEvaluations) {
  test::ScratchDir root;
  const TrainConfig c = small_run(root, "ema", 2);
  ASSERT_EQ(train(c).status, RunStatus::Completed);
  const json last = epoch_records(c).back();
  const fs::path file = run_file(c, "last.safetensors");
  ASSERT_TRUE(checkpoint::has_ema(checkpoint::load_checkpoint(file.string())));
  const EvalResult averaged = evaluate_checkpoint(c, file, true);
  const EvalResult raw = evaluate_checkpoint(c, file, false);
  EXPECT_EQ(averaged.top1, last["eval"]["top1"].get<double>());
  EXPECT_EQ(averaged.loss, last["eval"]["loss"].get<double>());
  EXPECT_EQ(raw.top1, last["eval_raw"]["top1"].get<double>());
  EXPECT_EQ(raw.loss, last["eval_raw"]["loss"].get<double>());
  // Eight updates at decay 0.9 from the start: the average is not the last weights.
  EXPECT_NE(averaged.loss, raw.loss);
}

}  // namespace
}  // namespace kestrel::train
