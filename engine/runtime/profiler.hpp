#pragma once
// Starts and stops the CUDA profiler's capture (cudaProfilerStart/Stop), so that
// `nsys profile --capture-range=cudaProfilerApi` records only the steps in between. In a
// CPU-only build both do nothing.
#include <cstdint>

#include "engine/runtime/context.hpp"

namespace kestrel {

void cuda_profiler_start();
void cuda_profiler_stop();

// Brackets steps [first, last] of a loop: the capture starts before step `first` and stops
// after step `last` (its work finished), or when the bracket is destroyed first (a run that
// ends early). Does nothing when first < 0 or the context is not a GPU's.
class ProfilerBracket {
 public:
  ProfilerBracket(const Context& ctx, int64_t first, int64_t last);
  ~ProfilerBracket();
  ProfilerBracket(const ProfilerBracket&) = delete;
  ProfilerBracket& operator=(const ProfilerBracket&) = delete;

  void before_step(int64_t step);
  void after_step(int64_t step);

 private:
  const Context& ctx_;
  int64_t first_, last_;
  bool enabled_, capturing_ = false;
};

}  // namespace kestrel
