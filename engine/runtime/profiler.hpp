#pragma once
// Starts and stops the CUDA profiler's capture (cudaProfilerStart/Stop), so that
// `nsys profile --capture-range=cudaProfilerApi` records only the steps in between. In a
// CPU-only build both do nothing.
namespace kestrel {

void cuda_profiler_start();
void cuda_profiler_stop();

}  // namespace kestrel
