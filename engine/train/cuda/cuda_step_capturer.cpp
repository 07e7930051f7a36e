// The CUDA StepCapturer: stream capture on the context's compute stream, with the memory pool
// holding every block the body frees for as long as the graph lives (a replay writes to the
// very addresses the capture saw).
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <vector>

#include "engine/memory/memory_pool.hpp"
#include "engine/runtime/cuda/captured_graph.hpp"
#include "engine/runtime/cuda/device_context.hpp"
#include "engine/train/step_graph.hpp"

namespace kestrel::train {

namespace {

class CudaStepCapturer final : public StepCapturer {
 public:
  explicit CudaStepCapturer(const Context& ctx) : ctx_(ctx) {}

  ~CudaStepCapturer() override {
    if (held_.empty()) return;
    // Replays still queued may use the held blocks: let them finish before the pool may
    // hand the blocks out again. A destructor must not throw: after a CUDA error (which is
    // what unwinds through here) the blocks simply stay taken.
    try {
      ctx_.synchronize();
      graph_.reset();
      for (void* p : held_) ctx_.pool().deallocate(p);
    } catch (...) {
    }
  }

  void capture(const std::function<void()>& body) override {
    ctx_.cuda().make_current();
    MemoryPool& pool = ctx_.pool();
    pool.begin_holding();
    try {
      graph_.emplace(ctx_.cuda().compute_stream(), body);
    } catch (...) {
      // The body queued nothing that will run: its blocks can go back at once.
      for (void* p : pool.end_holding()) pool.deallocate(p);
      throw;
    }
    held_ = pool.end_holding();
    ctx_.cuda().keep_outgrown_workspaces();
  }

  void replay() override { graph_->launch(ctx_.cuda().compute_stream()); }

  std::string describe() const override {
    return fmt::format("a CUDA Graph of {} nodes", graph_->nodes());
  }

 private:
  Context ctx_;
  std::optional<cuda::CapturedGraph> graph_;
  std::vector<void*> held_;
};

}  // namespace

std::unique_ptr<StepCapturer> make_cuda_step_capturer(const Context& ctx) {
  return std::make_unique<CudaStepCapturer>(ctx);
}

}  // namespace kestrel::train
