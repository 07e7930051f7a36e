#pragma once
// MemoryPool: a caching allocator over a RawAllocator, after PyTorch's CUDA caching allocator
// (simplified: one stream, no size limits). Memory is reserved from the raw allocator in
// segments; each segment is cut into blocks that are handed out, freed back into the cache,
// split to serve smaller requests and coalesced again with free neighbours. A training step
// that frees and re-allocates the same buffers therefore costs no raw allocation after the
// first, and a pattern of different sizes does not fragment memory for good.
//
// Sizes (all requests round up to a multiple of kMinBlockSize):
//   small request (<= kSmallSize, 1 MiB): carved from kSmallSegment (2 MiB) segments;
//   large request (>  kSmallSize): served from cached large blocks, else from a new segment of
//     the request rounded up to kLargeRound (2 MiB), whatever its size. One rule instead of
//     PyTorch's shared 20 MiB segments for 1-10 MiB requests: simpler, and the Graph allocates
//     its activations once. The tail (< 2 MiB) stays cached when > 1 MiB, else is slack.
// Small and large blocks never share a segment, so many small tensors do not pin large ones.
//
// Thread-safe: every member that touches the pool takes its mutex (raw allocations happen
// under it, as in PyTorch).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/memory/raw_allocator.hpp"

namespace kestrel {

struct PoolStats {
  size_t in_use_bytes = 0;        // bytes in blocks handed out and not yet freed (a block is at
                                  // least the rounded request; see MemoryPool::allocate)
  size_t peak_in_use_bytes = 0;   // high-water mark of in_use_bytes
  size_t reserved_bytes = 0;      // bytes held from the raw allocator (in use + cached)
  size_t cached_bytes = 0;        // reserved but not in use
  uint64_t allocations = 0;       // successful calls to allocate()
  uint64_t raw_allocations = 0;   // segments requested from the raw allocator
  uint64_t cache_hits = 0;        // allocations served without a raw allocation
  uint64_t segments = 0;          // segments held now (reserved_bytes is their total size)
  size_t largest_free_block = 0;  // the biggest cached block: the largest request that is
                                  // sure to be served without a raw allocation
  uint64_t oom_retries = 0;       // raw allocations that failed, released the cache, retried

  // Share of the cache that is not in its largest block, in [0, 1): 0 when the cache is one
  // block (or empty), near 1 when it is scattered in small holes between live blocks.
  double fragmentation() const {
    if (cached_bytes == 0) return 0.0;
    return 1.0 - static_cast<double>(largest_free_block) / static_cast<double>(cached_bytes);
  }
};

class MemoryPool {
 public:
  static constexpr size_t kMinBlockSize = 512;      // granularity and alignment of blocks
  static constexpr size_t kSmallSize = 1 << 20;     // largest "small" request (1 MiB)
  static constexpr size_t kSmallSegment = 2 << 20;  // segment size for small requests
  static constexpr size_t kLargeRound = 2 << 20;    // large segments round up to this

  explicit MemoryPool(std::unique_ptr<RawAllocator> raw);
  // Returns every segment to the raw allocator, live blocks included.
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // A block of at least `bytes` (0 is allowed and returns a valid unique pointer), aligned to
  // kMinBlockSize relative to its segment (and so to the raw allocator's alignment, >= 256).
  // The best-fitting cached block is used, split when the rest is worth keeping (>= 512 bytes
  // for small blocks, > 1 MiB for large ones; otherwise the slack counts as in use). With no
  // fitting block a new segment is reserved; if the raw allocator throws, every wholly free
  // segment is released and the reservation retried once, and a second failure propagates
  // the raw allocator's kestrel::Error (which names the bytes it was asked for).
  void* allocate(size_t bytes);
  // Returns a block from allocate() to the cache, merging it with free neighbours. Throws
  // kestrel::Error on a pointer the pool never gave or a block that is already free.
  void deallocate(void* ptr);
  // Gives every wholly free segment back to the raw allocator; partly used ones stay.
  void release_cached();

  // While holding, deallocate() checks the pointer but keeps the block allocated and lists it
  // instead of caching it. A CUDA Graph captured meanwhile keeps writing to the memory its
  // kernels were captured with every time it is replayed, so that memory must stay the
  // graph's: its owner takes the list from end_holding() and deallocates the blocks when the
  // graph is gone. Holding does not nest.
  void begin_holding();
  std::vector<void*> end_holding();

  PoolStats stats() const;
  void reset_peak();
  RawAllocator& raw() { return *raw_; }

  // The size a request is rounded to: a multiple of kMinBlockSize, at least kMinBlockSize.
  static size_t round_size(size_t bytes);
  // The size of the segment reserved for a request of `bytes` that no cached block serves.
  static size_t segment_size(size_t bytes);

 private:
  struct Impl;
  std::unique_ptr<RawAllocator> raw_;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
  bool holding_ = false;
  std::vector<void*> held_;
};

// The process-wide pool for host memory (the CPU device).
MemoryPool& host_pool();

}  // namespace kestrel
