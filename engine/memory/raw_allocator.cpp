#include "engine/memory/raw_allocator.hpp"

#include <cstdlib>

#include "kernels/common/error.hpp"

namespace kestrel {

namespace {
constexpr size_t kHostAlignment = 4096;
}

void* HostAllocator::allocate(size_t bytes) {
  const size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  KESTREL_CHECK(p != nullptr, "out of host memory: could not allocate {} bytes", bytes);
  return p;
}

void HostAllocator::deallocate(void* ptr, size_t /*bytes*/) { std::free(ptr); }

}  // namespace kestrel
