#include "engine/train/step_graph.hpp"

#include <fmt/format.h>

#include "kernels/common/error.hpp"

namespace kestrel::train {

#if defined(KESTREL_HAVE_CUDA)
std::unique_ptr<StepCapturer> make_cuda_step_capturer(const Context& ctx);  // cuda/
#endif

std::unique_ptr<StepCapturer> make_step_capturer(const Context& ctx) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) return make_cuda_step_capturer(ctx);
#endif
  (void)ctx;
  return nullptr;
}

StepGraph::StepGraph(std::unique_ptr<StepCapturer> capturer, int64_t full_rows)
    : capturer_(std::move(capturer)),
      full_rows_(full_rows),
      state_(capturer_ != nullptr ? State::WarmingUp : State::Off) {
  KESTREL_CHECK(full_rows > 0, "StepGraph: a batch of {} rows", full_rows);
}

void StepGraph::run(int64_t rows, const std::function<void()>& body) {
  if (state_ == State::Off || state_ == State::Failed || rows != full_rows_) {
    body();
    return;
  }
  if (state_ == State::WarmingUp) {
    if (!warmed_up_) {
      warmed_up_ = true;
      body();
      return;
    }
    try {
      capturer_->capture(body);
      state_ = State::Replaying;
    } catch (const Error& e) {
      // Capture ran none of the body's work: this step runs it eagerly, as will every other.
      failure_ = e.message();
      state_ = State::Failed;
      // Once, when it happens: a run that goes on slower says why.
      fmt::print(stderr,
                 "kestrel: warning: CUDA Graph capture failed ({}); every step runs eagerly\n",
                 failure_);
      capturer_.reset();
      body();
      return;
    }
  }
  capturer_->replay();
  ++replays_;
}

std::string StepGraph::status() const {
  switch (state_) {
    case State::Off:
      return "off (every step runs eagerly)";
    case State::WarmingUp:
      return "warming up (no full batch captured yet)";
    case State::Replaying:
      return fmt::format("replaying {}", capturer_->describe());
    case State::Failed:
      return fmt::format("capture failed ({}): every step runs eagerly", failure_);
  }
  return "?";
}

}  // namespace kestrel::train
