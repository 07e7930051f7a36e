#include "engine/tensor/copy.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/common/error.hpp"
#include "kernels/common/fill.hpp"
#include "kernels/cpu/parallel.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/launch.hpp"
#endif

namespace kestrel {

#if defined(KESTREL_HAVE_CUDA)
namespace {
cudaMemcpyKind copy_kind(Device dst, Device src) {
  if (dst.is_cpu()) return src.is_cpu() ? cudaMemcpyHostToHost : cudaMemcpyDeviceToHost;
  return src.is_cpu() ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice;
}
}  // namespace
#endif

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if defined(KESTREL_HAVE_CUDA)
  const int gpu = dst_device.is_cuda() ? dst_device.index : src_device.index;
  // Between two GPUs the copy is queued on the destination's stream: the source's own queued
  // work (what wrote it) must be done first.
  if (dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index)
    cuda::device_context(src_device.index).synchronize();
  auto& dc = cuda::device_context(gpu);
  dc.make_current();
  KESTREL_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, bytes, copy_kind(dst_device, src_device), dc.compute_stream()));
  // A copy that involves the host waits (the host reads or may free its side next); one between
  // GPU buffers stays ordered on the stream like any kernel.
  if (dst_device.is_cpu() || src_device.is_cpu()) dc.synchronize();
#else
  KESTREL_FAIL("copy between {} and {}: this kestrel was built without CUDA", src_device.str(),
               dst_device.str());
#endif
}

void fill_floats(float* dst, Device device, int64_t count, float value) {
  const kernels::Fill fill{dst, value};
  if (device.is_cpu()) {
    cpu::launch(count, fill);
    return;
  }
#if defined(KESTREL_HAVE_CUDA)
  auto& dc = cuda::device_context(device.index);
  dc.make_current();
  cuda::launch(count, fill, dc.compute_stream());
#else
  KESTREL_FAIL("fill on {}: this kestrel was built without CUDA", device.str());
#endif
}

void zero_bytes(void* dst, Device device, size_t bytes) {
  if (device.is_cpu()) {
    std::memset(dst, 0, bytes);
    return;
  }
#if defined(KESTREL_HAVE_CUDA)
  auto& dc = cuda::device_context(device.index);
  dc.make_current();
  KESTREL_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, dc.compute_stream()));
#else
  KESTREL_FAIL("zeros on {}: this kestrel was built without CUDA", device.str());
#endif
}

}  // namespace kestrel
