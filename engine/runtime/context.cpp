#include "engine/runtime/context.hpp"

#include "engine/memory/memory_pool.hpp"

namespace kestrel {

Context::Context(Device device) : device_(device) {
  KESTREL_CHECK(device.is_cpu(), "device {} is not available: this build has the CPU backend only",
                device.str());
}

MemoryPool& Context::pool() const { return pool_for(device_); }

}  // namespace kestrel
