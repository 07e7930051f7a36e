#include "engine/tensor/storage.hpp"

#include "engine/memory/memory_pool.hpp"
#include "kernels/common/error.hpp"

namespace kestrel {

Storage::Storage(Device device, MemoryPool& pool, size_t bytes)
    : device_(device), pool_(&pool), data_(pool.allocate(bytes)), nbytes_(bytes) {}

Storage::~Storage() { pool_->deallocate(data_); }

std::shared_ptr<Storage> Storage::allocate(Device device, size_t bytes) {
  return std::make_shared<Storage>(device, pool_for(device), bytes);
}

MemoryPool& pool_for(Device device) {
  KESTREL_CHECK(device.is_cpu(), "no memory pool for device {}: this build runs on the CPU only",
                device.str());
  return host_pool();
}

}  // namespace kestrel
