// airbench94's recipe through the trainer, on the synthetic data (1x28x28): the whitening
// layer starts from the training images (filter pairs (v, -v), not the zeros the graph leaves),
// the lookahead's slow weights are checkpointed, and a run interrupted after its first epoch
// and resumed ends bit for bit where the uninterrupted one does (schedule, lookahead pulls,
// test-time augmentation and all).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/checkpoint.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/scratch_dir.hpp"
#include "tests/support/train_observers.hpp"

namespace kestrel::train {
namespace {

namespace fs = std::filesystem;

using test::InterruptAfter;
using test::Quiet;

// The recipe of `model` on `images` images in batches of 32 (airbench94: 128, 4 steps an epoch,
// so the lookahead's every-5 grid falls inside the second epoch), 2 epochs.
TrainConfig airbench_run(const test::ScratchDir& root, const std::string& name,
                         const std::string& model = "airbench94", int64_t images = 128) {
  TrainConfig c = default_config(model, "synthetic");
  c.device = "cpu";
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = images;
  c.test_limit = 32;
  c.batch = 32;
  c.epochs = 2;
  return c;
}

fs::path last(const TrainConfig& c) { return fs::path(c.out_dir) / c.name / "last.safetensors"; }

// Trains `model` straight through and, apart, interrupted after its first epoch and resumed;
// expects the two final checkpoints to hold the same tensors bit for bit and returns the
// straight run's.
checkpoint::SafetensorsFile expect_resume_bit_exact(const std::string& model, int64_t images) {
  test::ScratchDir root;
  Quiet quiet;
  const TrainConfig straight = airbench_run(root, "straight", model, images);
  const RunResult a = run_training(straight, apps::model_builder(), quiet);
  EXPECT_EQ(a.status, RunStatus::Completed) << a.message;

  TrainConfig resumed = airbench_run(root, "resumed", model, images);
  InterruptAfter interrupt(1);
  EXPECT_THROW(run_training(resumed, apps::model_builder(), interrupt), std::runtime_error);
  resumed.resume = last(resumed).string();
  const RunResult b = run_training(resumed, apps::model_builder(), quiet);
  EXPECT_EQ(b.status, RunStatus::Completed) << b.message;

  auto fa = checkpoint::read_safetensors(last(straight).string());
  const auto fb = checkpoint::read_safetensors(last(resumed).string());
  EXPECT_EQ(fa.entries.size(), fb.entries.size());
  for (size_t i = 0; i < std::min(fa.entries.size(), fb.entries.size()); ++i) {
    SCOPED_TRACE(fa.entries[i].name);
    EXPECT_EQ(fa.entries[i].name, fb.entries[i].name);
    if (fa.entries[i].name != fb.entries[i].name) break;
    EXPECT_EQ(std::memcmp(fa.entries[i].tensor.raw_data(), fb.entries[i].tensor.raw_data(),
                          fa.entries[i].tensor.nbytes()),
              0);
  }
  return fa;
}

bool has_entry(const checkpoint::SafetensorsFile& f, const std::string& part) {
  for (const auto& e : f.entries)
    if (e.name.find(part) != std::string::npos) return true;
  return false;
}

TEST(AirbenchRecipe, IsAirbench94s) {
  const TrainConfig c = default_config("airbench94", "cifar10");
  EXPECT_EQ(c.optimizer, "sgd");
  EXPECT_FLOAT_EQ(c.momentum, 0.85f);
  EXPECT_TRUE(c.nesterov);
  EXPECT_FLOAT_EQ(c.lr, 1.5f);  // 11.5 per 1024 summed examples = 1.5 on the mean loss
  EXPECT_FLOAT_EQ(c.lr * c.weight_decay, 1.5f * 0.0153f / 11.5f);
  EXPECT_EQ(c.batch, 1024);
  EXPECT_EQ(c.schedule, ScheduleKind::Triangular);
  EXPECT_FLOAT_EQ(c.label_smoothing, 0.2f);
  EXPECT_DOUBLE_EQ(c.lookahead_decay, 0.95);
  EXPECT_EQ(c.lookahead_every, 5);
  EXPECT_EQ(c.tta, Tta::FlipTranslate);
  EXPECT_EQ(c.crop_padding, 2);
  EXPECT_EQ(c.crop_padding_mode, data::PaddingMode::Reflect);
  EXPECT_TRUE(c.hflip && c.alternate_flip);
  ASSERT_EQ(c.param_groups.size(), 2u);
  EXPECT_EQ(param_group_rule_str(c.param_groups[0]), "*.norm*.bias:lr=64,wd=0.015625,epochs=0");
  EXPECT_EQ(param_group_rule_str(c.param_groups[1]), "whiten.bias:lr=1,wd=1,epochs=3");
  const TrainConfig back = TrainConfig::from_json(c.to_json());
  EXPECT_DOUBLE_EQ(back.lookahead_decay, 0.95);
  EXPECT_EQ(back.lookahead_every, 5);
}

// airbench94_muon's rates in kestrel's terms (train_config.cpp says why): every SGD group
// decays its weights by 0.004 per step (lr x weight decay, as airbench's 2e-6 x batch), the
// biases at 64x the head's rate.
TEST(AirbenchRecipe, MuonIsAirbench94Muons) {
  const TrainConfig c = default_config("airbench94_muon", "cifar10");
  EXPECT_EQ(c.optimizer, "muon");
  EXPECT_EQ(c.batch, 2000);
  EXPECT_EQ(c.epochs, 8);
  EXPECT_EQ(c.schedule, ScheduleKind::Linear);
  EXPECT_FLOAT_EQ(c.muon_lr, 0.24f);
  EXPECT_FLOAT_EQ(c.muon_momentum, 0.6f);
  EXPECT_EQ(c.muon_ns_steps, 3);
  EXPECT_TRUE(c.muon_normalize_weights);
  EXPECT_FLOAT_EQ(c.momentum, 0.85f);
  EXPECT_NEAR(c.lr, 0.67 * 2000 * 81 / 65536, 1e-5);
  EXPECT_NEAR(static_cast<double>(c.lr) * c.weight_decay, 0.004, 1e-8);
  ASSERT_EQ(c.param_groups.size(), 2u);
  for (const ParamGroupRule& r : c.param_groups) {
    EXPECT_NEAR(c.lr * r.lr_scale, 0.053 * 2000, 1e-3) << r.pattern;
    EXPECT_NEAR(c.lr * r.lr_scale * c.weight_decay * r.weight_decay_scale, 0.004, 1e-8)
        << r.pattern;
  }
  EXPECT_EQ(c.param_groups[1].pattern, "whiten.bias");
  EXPECT_EQ(c.param_groups[1].train_epochs, 3);
  EXPECT_DOUBLE_EQ(c.lookahead_decay, 0.0);
  EXPECT_EQ(c.tta, Tta::FlipTranslate);
  const TrainConfig back = TrainConfig::from_json(c.to_json());
  EXPECT_EQ(back.optimizer, "muon");
  EXPECT_FLOAT_EQ(back.muon_lr, 0.24f);
  EXPECT_FLOAT_EQ(back.muon_momentum, 0.6f);
  EXPECT_EQ(back.muon_ns_steps, 3);
  EXPECT_TRUE(back.muon_normalize_weights);
}

// Muon through the trainer: a run interrupted after its first epoch and resumed (both momentum
// buffers from the checkpoint) ends bit for bit where the uninterrupted one does.
TEST(AirbenchRecipe, MuonRunResumesBitExactly) {
  const auto f = expect_resume_bit_exact("airbench94_muon", 96);
  EXPECT_TRUE(has_entry(f, "muon_momentum_buffer"));
}

TEST(AirbenchRecipe, WhitensFromTheDataAndResumesBitExactly) {
  const auto fa = expect_resume_bit_exact("airbench94", 128);
  EXPECT_TRUE(has_entry(fa, "lookahead.head.weight"));
  // 8 whitening filters of 1x2x2: (v, -v) pairs, not zero.
  const Tensor w = fa.find("whiten.weight")->tensor;
  ASSERT_EQ(w.shape(), (Shape{8, 1, 2, 2}));
  const float* pw = w.data<float>();
  double norm = 0.0;
  for (int64_t i = 0; i < 16; ++i) {
    EXPECT_EQ(pw[16 + i], -pw[i]);
    norm += static_cast<double>(pw[i]) * pw[i];
  }
  EXPECT_GT(norm, 1.0);
}

}  // namespace
}  // namespace kestrel::train
