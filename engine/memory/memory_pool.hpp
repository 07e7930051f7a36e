#pragma once
// MemoryPool: a caching allocator over a RawAllocator. Freed blocks stay cached and are
// reused for later requests of a fitting size class, so a training step that frees and
// re-allocates the same buffers costs no raw allocation after the first.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/memory/raw_allocator.hpp"

namespace kestrel {

struct PoolStats {
  size_t in_use_bytes = 0;       // bytes handed out and not yet freed (after rounding)
  size_t peak_in_use_bytes = 0;  // high-water mark of in_use_bytes
  size_t reserved_bytes = 0;     // bytes held from the raw allocator (in use + cached)
  size_t cached_bytes = 0;       // reserved but not in use
  uint64_t allocations = 0;      // calls to allocate()
  uint64_t raw_allocations = 0;  // segments requested from the raw allocator
  uint64_t cache_hits = 0;       // allocations served without a raw allocation
};

class MemoryPool {
 public:
  explicit MemoryPool(std::unique_ptr<RawAllocator> raw);
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // A block of at least `bytes` (0 is allowed and returns a valid unique pointer).
  void* allocate(size_t bytes);
  // Returns a block from allocate() to the cache. Throws on a pointer the pool never gave.
  void deallocate(void* ptr);
  // Gives every wholly free segment back to the raw allocator.
  void release_cached();

  PoolStats stats() const;
  void reset_peak();
  RawAllocator& raw() { return *raw_; }

  // The size a request is rounded to (its size class).
  static size_t round_size(size_t bytes);

 private:
  struct Impl;
  std::unique_ptr<RawAllocator> raw_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
};

// The process-wide pool for host memory (the CPU device).
MemoryPool& host_pool();

}  // namespace kestrel
