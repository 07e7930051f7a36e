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

}  // namespace kestrel
