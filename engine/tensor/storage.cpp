#include "engine/tensor/storage.hpp"

#include "engine/memory/memory_pool.hpp"
#include "kernels/common/error.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "engine/runtime/cuda/device_context.hpp"
#endif

namespace kestrel {

Storage::Storage(Device device, MemoryPool& pool, size_t bytes)
    : device_(device), pool_(&pool), data_(pool.allocate(bytes)), nbytes_(bytes) {}

Storage::~Storage() { pool_->deallocate(data_); }

std::shared_ptr<Storage> Storage::allocate(Device device, size_t bytes) {
  return std::make_shared<Storage>(device, pool_for(device), bytes);
}

MemoryPool& pool_for(Device device) {
  if (device.is_cpu()) return host_pool();
#if defined(KESTREL_HAVE_CUDA)
  return cuda::device_context(device.index).pool();
#else
  KESTREL_FAIL("no memory pool for device {}: this kestrel was built without CUDA", device.str());
#endif
}

}  // namespace kestrel
