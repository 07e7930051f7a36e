#include "engine/runtime/profiler.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include <cuda_profiler_api.h>

#include "kernels/cuda/check.hpp"
#endif

namespace kestrel {

#if defined(KESTREL_HAVE_CUDA)
void cuda_profiler_start() { KESTREL_CUDA_CHECK(cudaProfilerStart()); }
void cuda_profiler_stop() { KESTREL_CUDA_CHECK(cudaProfilerStop()); }
#else
void cuda_profiler_start() {}
void cuda_profiler_stop() {}
#endif

ProfilerBracket::ProfilerBracket(const Context& ctx, int64_t first, int64_t last)
    : ctx_(ctx), first_(first), last_(last), enabled_(first >= 0 && ctx.is_cuda()) {}

ProfilerBracket::~ProfilerBracket() {
  if (!capturing_) return;
  try {
    ctx_.synchronize();
    cuda_profiler_stop();
  } catch (...) {
    // Unwinding from another error: that one is the one to report.
  }
}

void ProfilerBracket::before_step(int64_t step) {
  if (!enabled_ || capturing_ || step != first_) return;
  cuda_profiler_start();
  capturing_ = true;
}

void ProfilerBracket::after_step(int64_t step) {
  if (!capturing_ || step != last_) return;
  ctx_.synchronize();  // the capture holds the step's GPU work, not only its launches
  cuda_profiler_stop();
  capturing_ = false;
}

}  // namespace kestrel
