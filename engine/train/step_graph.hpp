#pragma once
// StepGraph: the body of a training step (train::queue_step_body) captured once as a CUDA
// Graph and replayed at every later full-batch step, so that a step costs the host a few
// launches (the batch, the step's inputs, the graph) instead of one per kernel.
//
//   StepGraph graph(make_step_capturer(ctx), batch);
//   per step: loader.next(batch); queue_step_inputs(...);
//             graph.run(batch.size, [&] { queue_step_body(...); });
//
// The first full batch runs eagerly (cuDNN picks its algorithms, the pool reserves the step's
// memory), the second is captured and replayed, every later one is replayed. Short batches
// (an epoch's last) always run eagerly. A capture that fails (a call in the body that stream
// capture does not allow) is kept in status(), that step and every later one run eagerly: a
// failed capture costs speed, never a step. On the CPU there is nothing to capture and every
// step runs eagerly.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/runtime/context.hpp"

namespace kestrel::train {

// What StepGraph needs from a backend: capture what a body queues (without running it) and
// replay it. The CUDA capturer records on the context's stream; tests pass a fake.
class StepCapturer {
 public:
  virtual ~StepCapturer() = default;
  // Throws kestrel::Error when the body cannot be captured.
  virtual void capture(const std::function<void()>& body) = 0;
  virtual void replay() = 0;
  // What was captured, for status(): "a CUDA Graph of 57 nodes".
  virtual std::string describe() const = 0;
};

// The capturer for ctx: CUDA stream capture on a GPU (the step's memory stays the graph's for
// as long as it lives), none on the CPU or in a build without CUDA.
std::unique_ptr<StepCapturer> make_step_capturer(const Context& ctx);

class StepGraph {
 public:
  // full_rows: the batch size that is captured. A null capturer: every step runs eagerly.
  StepGraph(std::unique_ptr<StepCapturer> capturer, int64_t full_rows);

  // Queues one step's body for a batch of `rows` rows: eagerly, or captured and replayed.
  void run(int64_t rows, const std::function<void()>& body);

  bool replaying() const { return state_ == State::Replaying; }
  int64_t replays() const { return replays_; }
  // "off (the CPU runs every step eagerly)", "warming up", "replaying a CUDA Graph of 57
  // nodes", or "capture failed (<error>): every step runs eagerly".
  std::string status() const;

 private:
  enum class State { Off, WarmingUp, Replaying, Failed };
  std::unique_ptr<StepCapturer> capturer_;
  int64_t full_rows_;
  State state_;
  bool warmed_up_ = false;
  int64_t replays_ = 0;
  std::string failure_;
};

}  // namespace kestrel::train
