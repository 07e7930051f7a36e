#include "engine/memory/memory_pool.hpp"

#include <map>
#include <unordered_map>

#include "kernels/common/error.hpp"

namespace kestrel {

namespace {
constexpr size_t kMinBlock = 512;
}

// First version: blocks cached by exact size class, no splitting.
struct MemoryPool::Impl {
  std::multimap<size_t, void*> free_blocks;        // size class -> cached block
  std::unordered_map<void*, size_t> live_blocks;   // block -> size class
  PoolStats stats;
};

MemoryPool::MemoryPool(std::unique_ptr<RawAllocator> raw)
    : raw_(std::move(raw)), impl_(std::make_unique<Impl>()) {}

MemoryPool::~MemoryPool() {
  for (auto& [size, p] : impl_->free_blocks) raw_->deallocate(p, size);
  for (auto& [p, size] : impl_->live_blocks) raw_->deallocate(p, size);
}

size_t MemoryPool::round_size(size_t bytes) {
  if (bytes < kMinBlock) return kMinBlock;
  return (bytes + kMinBlock - 1) / kMinBlock * kMinBlock;
}

void* MemoryPool::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard lock(mutex_);
  auto& st = impl_->stats;
  ++st.allocations;
  void* p = nullptr;
  if (auto it = impl_->free_blocks.find(size); it != impl_->free_blocks.end()) {
    p = it->second;
    impl_->free_blocks.erase(it);
    st.cached_bytes -= size;
    ++st.cache_hits;
  } else {
    p = raw_->allocate(size);
    ++st.raw_allocations;
    st.reserved_bytes += size;
  }
  impl_->live_blocks.emplace(p, size);
  st.in_use_bytes += size;
  if (st.in_use_bytes > st.peak_in_use_bytes) st.peak_in_use_bytes = st.in_use_bytes;
  return p;
}

void MemoryPool::deallocate(void* ptr) {
  std::lock_guard lock(mutex_);
  auto it = impl_->live_blocks.find(ptr);
  KESTREL_CHECK(it != impl_->live_blocks.end(), "MemoryPool({}): deallocate of unknown pointer {}",
                raw_->name(), ptr);
  const size_t size = it->second;
  impl_->live_blocks.erase(it);
  impl_->free_blocks.emplace(size, ptr);
  impl_->stats.in_use_bytes -= size;
  impl_->stats.cached_bytes += size;
}

void MemoryPool::release_cached() {
  std::lock_guard lock(mutex_);
  for (auto& [size, p] : impl_->free_blocks) {
    raw_->deallocate(p, size);
    impl_->stats.reserved_bytes -= size;
  }
  impl_->free_blocks.clear();
  impl_->stats.cached_bytes = 0;
}

PoolStats MemoryPool::stats() const {
  std::lock_guard lock(mutex_);
  return impl_->stats;
}

void MemoryPool::reset_peak() {
  std::lock_guard lock(mutex_);
  impl_->stats.peak_in_use_bytes = impl_->stats.in_use_bytes;
}

MemoryPool& host_pool() {
  // Leaked on purpose: tensors in static storage may outlive any destruction order.
  static MemoryPool* pool = new MemoryPool(std::make_unique<HostAllocator>());
  return *pool;
}

}  // namespace kestrel
