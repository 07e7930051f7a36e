// Learning-rate schedules against values worked out by hand from PyTorch's formulas.
#include "engine/train/lr_schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "kernels/common/error.hpp"

namespace kestrel::train {
namespace {

ScheduleOptions options(ScheduleKind kind, int64_t total) {
  ScheduleOptions o;
  o.kind = kind;
  o.base_lr = 0.1f;
  o.total_steps = total;
  o.steps_per_epoch = 10;
  return o;
}

TEST(LrSchedule, ConstantWithLinearWarmup) {
  auto o = options(ScheduleKind::Constant, 50);
  o.warmup_steps = 4;
  const LrSchedule s(o);
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.025f);
  EXPECT_FLOAT_EQ(s.lr_at(1), 0.05f);
  EXPECT_FLOAT_EQ(s.lr_at(3), 0.1f);
  EXPECT_FLOAT_EQ(s.lr_at(4), 0.1f);
  EXPECT_FLOAT_EQ(s.lr_at(49), 0.1f);
}

TEST(LrSchedule, StepDecaysEveryStepSizeEpochs) {
  auto o = options(ScheduleKind::Step, 60);
  o.step_size_epochs = 2;
  o.gamma = 0.5f;
  const LrSchedule s(o);
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f);
  EXPECT_FLOAT_EQ(s.lr_at(19), 0.1f);   // epoch 1
  EXPECT_FLOAT_EQ(s.lr_at(20), 0.05f);  // epoch 2
  EXPECT_FLOAT_EQ(s.lr_at(39), 0.05f);
  EXPECT_FLOAT_EQ(s.lr_at(40), 0.025f);
}

TEST(LrSchedule, CosineFallsFromBaseToMinimum) {
  auto o = options(ScheduleKind::Cosine, 100);
  o.min_lr = 0.01f;
  const LrSchedule s(o);
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f);
  EXPECT_NEAR(s.lr_at(50), 0.055f, 1e-7);  // halfway: (base + min) / 2
  EXPECT_NEAR(s.lr_at(25), 0.01 + 0.09 * (1 + std::cos(std::numbers::pi / 4)) / 2, 1e-7);
  for (int64_t i = 1; i < 100; ++i) EXPECT_LT(s.lr_at(i), s.lr_at(i - 1)) << "step " << i;
  EXPECT_GT(s.lr_at(99), 0.01f);
}

TEST(LrSchedule, CosineWarmupThenAnneal) {
  auto o = options(ScheduleKind::Cosine, 110);
  o.warmup_steps = 10;
  const LrSchedule s(o);
  EXPECT_FLOAT_EQ(s.lr_at(4), 0.05f);
  EXPECT_FLOAT_EQ(s.lr_at(10), 0.1f);
  EXPECT_NEAR(s.lr_at(60), 0.05f, 1e-7);
}

TEST(LrSchedule, OneCycleMatchesTorchPhases) {
  const LrSchedule s(options(ScheduleKind::OneCycle, 100));
  // torch.optim.lr_scheduler.OneCycleLR(max_lr=0.1, total_steps=100): phase one ends at step
  // 0.3 * 100 - 1 = 29, phase two at 99.
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f / 25);
  EXPECT_FLOAT_EQ(s.lr_at(29), 0.1f);
  EXPECT_NEAR(s.lr_at(99), 0.1 / 25 / 1e4, 1e-10);
  EXPECT_NEAR(s.lr_at(64), (0.1 + 0.1 / 25 / 1e4) / 2, 1e-7);  // (64 - 29) / 70 = 1/2
  const double pct = 10.0 / 29.0;
  EXPECT_NEAR(s.lr_at(10), 0.1 + (0.004 - 0.1) / 2 * (std::cos(std::numbers::pi * pct) + 1), 1e-7);
}

TEST(LrSchedule, TriangularIsAirbenchsLambda) {
  // airbench94's get_lr for 480 steps: warm-up W = int(480 * 0.23) = 110 steps from 0.2x, then
  // down to 0.07x at step 480 (the last step, 479, is one step short of it).
  const LrSchedule s(options(ScheduleKind::Triangular, 480));
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f * 0.2f);
  EXPECT_NEAR(s.lr_at(55), 0.1 * (0.2 * 0.5 + 0.5), 1e-8);
  EXPECT_FLOAT_EQ(s.lr_at(110), 0.1f);
  const double frac = 369.0 / 370.0;
  EXPECT_NEAR(s.lr_at(479), 0.1 * ((1 - frac) + 0.07 * frac), 1e-8);
  for (int64_t step = 1; step < 480; ++step) {
    if (step <= 110) {
      EXPECT_GT(s.lr_at(step), s.lr_at(step - 1)) << step;
    } else {
      EXPECT_LT(s.lr_at(step), s.lr_at(step - 1)) << step;
    }
  }
}

TEST(LrSchedule, LinearIsTorchsLinearLRToZero) {
  // airbench94_muon's lr = initial x (1 - step / total) for 200 steps: torch's
  // LinearLR(start_factor=1, end_factor=0, total_iters=200).
  const LrSchedule s(options(ScheduleKind::Linear, 200));
  EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f);
  EXPECT_NEAR(s.lr_at(50), 0.1 * 0.75, 1e-8);
  EXPECT_NEAR(s.lr_at(199), 0.1 / 200, 1e-9);
  // With a warm-up of 20 steps, the decay spans the 180 after it.
  auto warm = options(ScheduleKind::Linear, 200);
  warm.warmup_steps = 20;
  const LrSchedule w(warm);
  EXPECT_NEAR(w.lr_at(9), 0.1 * 10 / 20, 1e-8);
  EXPECT_FLOAT_EQ(w.lr_at(20), 0.1f);
  EXPECT_NEAR(w.lr_at(110), 0.1 * 0.5, 1e-8);
}

TEST(LrSchedule, StepsOutsideTheRunClamp) {
  const LrSchedule s(options(ScheduleKind::OneCycle, 100));
  EXPECT_FLOAT_EQ(s.lr_at(-5), s.lr_at(0));
  EXPECT_FLOAT_EQ(s.lr_at(1000), s.lr_at(99));
}

TEST(LrSchedule, NamesRoundTripAndUnknownIsAnError) {
  for (auto k :
       {ScheduleKind::Constant, ScheduleKind::Step, ScheduleKind::Cosine, ScheduleKind::OneCycle,
        ScheduleKind::Triangular, ScheduleKind::Linear})
    EXPECT_EQ(parse_schedule(schedule_name(k)), k);
  try {
    parse_schedule("exponential");
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown schedule 'exponential'"), std::string::npos);
  }
}

TEST(LrSchedule, InvalidOptionsAreRefused) {
  auto bad_lr = options(ScheduleKind::Constant, 10);
  bad_lr.base_lr = -1.0f;
  EXPECT_THROW(LrSchedule{bad_lr}, Error);
  auto no_steps = options(ScheduleKind::Cosine, 0);
  EXPECT_THROW(LrSchedule{no_steps}, Error);
  auto long_warmup = options(ScheduleKind::Cosine, 10);
  long_warmup.warmup_steps = 10;
  EXPECT_THROW(LrSchedule{long_warmup}, Error);
}

}  // namespace
}  // namespace kestrel::train
