// train::StepGraph's schedule with a fake capturer standing in for CUDA stream capture: like
// the real one, capturing records the body's work without doing it and a replay does it. Every
// step's work must then be done exactly once, whether it ran eagerly (the warm-up step, short
// batches, no capturer, a failed capture) or was captured and replayed.
#include "engine/train/step_graph.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "kernels/common/error.hpp"

namespace kestrel::train {
namespace {

// The "device": work done so far, and what a capture recorded.
struct FakeDevice {
  bool recording = false;
  int64_t done = 0;      // units of work done
  int64_t recorded = 0;  // units a replay does
  int captures = 0, replays = 0;
};

class FakeCapturer final : public StepCapturer {
 public:
  FakeCapturer(FakeDevice& d, bool fail) : d_(d), fail_(fail) {}
  void capture(const std::function<void()>& body) override {
    ++d_.captures;
    d_.recording = true;
    body();
    d_.recording = false;
    if (fail_) KESTREL_FAIL("operation not permitted when stream is capturing");
  }
  void replay() override {
    ++d_.replays;
    d_.done += d_.recorded;
  }
  std::string describe() const override { return "a fake graph"; }

 private:
  FakeDevice& d_;
  bool fail_;
};

// A step's body: one unit of work, done now or recorded.
std::function<void()> body(FakeDevice& d) {
  return [&d] {
    if (d.recording) {
      d.recorded = 1;
    } else {
      ++d.done;
    }
  };
}

TEST(StepGraph, WarmsUpCapturesThenReplaysAndDoesEveryStepOnce) {
  FakeDevice d;
  StepGraph g(std::make_unique<FakeCapturer>(d, false), 64);
  EXPECT_NE(g.status().find("warming up"), std::string::npos);
  g.run(64, body(d));  // eager warm-up
  EXPECT_EQ(d.done, 1);
  EXPECT_EQ(d.captures, 0);
  g.run(64, body(d));  // captured, then replayed
  EXPECT_EQ(d.captures, 1);
  EXPECT_EQ(d.done, 2);
  EXPECT_TRUE(g.replaying());
  for (int i = 0; i < 5; ++i) g.run(64, body(d));
  g.run(17, body(d));  // a short last batch: eager
  EXPECT_EQ(d.done, 8);
  EXPECT_EQ(d.captures, 1);
  EXPECT_EQ(d.replays, 6);
  EXPECT_EQ(g.replays(), 6);
  EXPECT_EQ(g.status(), "replaying a fake graph");
}

TEST(StepGraph, AFailedCaptureRunsThatStepAndAllLaterOnesEagerly) {
  FakeDevice d;
  StepGraph g(std::make_unique<FakeCapturer>(d, true), 64);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 4; ++i) g.run(64, body(d));
  // One warning line, when the capture failed.
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "kestrel: warning: CUDA Graph capture failed (operation not permitted when stream is "
            "capturing); every step runs eagerly\n");
  EXPECT_EQ(d.captures, 1);
  EXPECT_EQ(d.replays, 0);
  EXPECT_EQ(d.done, 4);
  EXPECT_FALSE(g.replaying());
  EXPECT_NE(g.status().find("capture failed (operation not permitted when stream is capturing)"),
            std::string::npos)
      << g.status();
}

TEST(StepGraph, WithoutACapturerEveryStepRunsEagerly) {
  FakeDevice d;
  StepGraph g(nullptr, 64);
  for (int i = 0; i < 3; ++i) g.run(64, body(d));
  EXPECT_EQ(d.done, 3);
  EXPECT_NE(g.status().find("off"), std::string::npos);
  EXPECT_EQ(make_step_capturer(Context(Device::cpu())), nullptr);
}

}  // namespace
}  // namespace kestrel::train
