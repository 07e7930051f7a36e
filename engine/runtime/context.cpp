#include "engine/runtime/context.hpp"

#include "engine/memory/memory_pool.hpp"
#include "engine/runtime/gpu_info.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#endif

namespace kestrel {

Context::Context(Device device) : device_(device) {
  if (device.is_cpu()) return;
#if defined(KESTREL_HAVE_CUDA)
  cuda_ = &cuda::device_context(device.index);
  // The calling thread's current device, so that kernels and copies queued on this context's
  // streams find their device current (each GPU's thread of `train --gpus` builds its own).
  cuda_->make_current();
#else
  KESTREL_FAIL("device {} is not available: this kestrel was built without CUDA", device.str());
#endif
}

MemoryPool& Context::pool() const { return pool_for(device_); }

cuda::DeviceContext& Context::cuda() const {
  KESTREL_CHECK(cuda_ != nullptr, "context on {} has no CUDA device context", device_.str());
  return *cuda_;
}

CUstream_st* Context::stream() const {
#if defined(KESTREL_HAVE_CUDA)
  return cuda().compute_stream();
#else
  KESTREL_FAIL("context on {} has no CUDA stream in a CPU-only build", device_.str());
#endif
}

void Context::synchronize() const {
#if defined(KESTREL_HAVE_CUDA)
  if (cuda_) cuda_->synchronize();
#endif
}

}  // namespace kestrel
