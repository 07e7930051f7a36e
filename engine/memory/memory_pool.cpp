#include "engine/memory/memory_pool.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "kernels/common/error.hpp"

namespace kestrel {
namespace {

// A piece of one segment. The blocks of a segment form an address-ordered doubly linked list,
// so a freed block finds its neighbours in O(1) to merge with them.
struct Block {
  char* ptr = nullptr;
  size_t size = 0;
  bool small = false;      // the pool of the block's segment (small and large never mix)
  bool allocated = false;  // handed out by allocate() and not yet freed
  Block* prev = nullptr;   // neighbour at the next lower address in the same segment
  Block* next = nullptr;   // neighbour at the next higher address in the same segment

  bool whole_segment() const { return prev == nullptr && next == nullptr; }
  bool contains(const void* p) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const auto begin = reinterpret_cast<uintptr_t>(ptr);
    return begin <= a && a < begin + size;
  }
};

// Best fit: the smallest block that fits, the lowest address among equal sizes.
struct BySizeThenAddress {
  bool operator()(const Block* a, const Block* b) const {
    if (a->size != b->size) return a->size < b->size;
    return std::less<const char*>()(a->ptr, b->ptr);
  }
};
using FreeBlocks = std::set<Block*, BySizeThenAddress>;

}  // namespace

struct MemoryPool::Impl {
  FreeBlocks small_free;                   // cached blocks of small segments
  FreeBlocks large_free;                   // cached blocks of large segments
  std::unordered_map<void*, Block*> live;  // handed-out blocks by address
  PoolStats stats;                         // largest_free_block is filled in by stats()

  FreeBlocks& free_blocks(bool small) { return small ? small_free : large_free; }

  // Every change to the free sets goes through these two, so cached_bytes stays their total.
  void add_free(Block* b) {
    free_blocks(b->small).insert(b);
    stats.cached_bytes += b->size;
  }
  void remove_free(Block* b) {
    free_blocks(b->small).erase(b);
    stats.cached_bytes -= b->size;
  }

  // Takes the best-fitting cached block of the pool out of the cache, or returns null.
  Block* take_best_fit(size_t size, bool small) {
    FreeBlocks& blocks = free_blocks(small);
    Block key;
    key.size = size;  // ptr null: sorts before every real block of this size
    const auto it = blocks.lower_bound(&key);
    if (it == blocks.end()) return nullptr;
    Block* b = *it;
    remove_free(b);
    return b;
  }

  // Cuts `size` bytes off the front of `b` when the rest is worth keeping as a cached block.
  void split(Block* b, size_t size) {
    const size_t rest = b->size - size;
    const bool worth_it = b->small ? rest >= kMinBlockSize : rest > kSmallSize;
    if (!worth_it) return;
    auto* remainder = new Block{b->ptr + size, rest, b->small, false, b, b->next};
    if (b->next != nullptr) b->next->prev = remainder;
    b->next = remainder;
    b->size = size;
    add_free(remainder);
  }

  // Merges free `b` with its free neighbours; the neighbours' Block records are deleted.
  void coalesce(Block* b) {
    if (Block* p = b->prev; p != nullptr && !p->allocated) {
      remove_free(p);
      b->ptr = p->ptr;
      b->size += p->size;
      b->prev = p->prev;
      if (b->prev != nullptr) b->prev->next = b;
      delete p;
    }
    if (Block* n = b->next; n != nullptr && !n->allocated) {
      remove_free(n);
      b->size += n->size;
      b->next = n->next;
      if (b->next != nullptr) b->next->prev = b;
      delete n;
    }
  }

  // Returns every wholly free segment to `raw`; the bytes released.
  size_t release_free_segments(RawAllocator& raw) {
    size_t released = 0;
    for (FreeBlocks* blocks : {&small_free, &large_free}) {
      for (auto it = blocks->begin(); it != blocks->end();) {
        Block* b = *it;
        if (!b->whole_segment()) {
          ++it;
          continue;
        }
        it = blocks->erase(it);
        raw.deallocate(b->ptr, b->size);
        stats.cached_bytes -= b->size;
        stats.reserved_bytes -= b->size;
        --stats.segments;
        released += b->size;
        delete b;
      }
    }
    return released;
  }

  // Why `ptr` is not a live block, for the error message.
  std::string describe_bad_pointer(const void* ptr, const std::string& pool_name) const {
    for (const FreeBlocks* blocks : {&small_free, &large_free})
      for (const Block* b : *blocks)
        if (b->contains(ptr))
          return fmt::format("MemoryPool({}): double free of {} (its memory is already free)",
                             pool_name, ptr);
    for (const auto& [p, b] : live)
      if (b->contains(ptr))
        return fmt::format(
            "MemoryPool({}): deallocate of {}, which points {} bytes into the block of {} bytes "
            "at {}",
            pool_name, ptr,
            reinterpret_cast<uintptr_t>(ptr) - reinterpret_cast<uintptr_t>(b->ptr), b->size, p);
    return fmt::format("MemoryPool({}): deallocate of unknown pointer {}", pool_name, ptr);
  }

  // Calls f on every block record: cached ones and live ones.
  template <class F> void for_each_block(F f) {
    for (Block* b : small_free) f(b);
    for (Block* b : large_free) f(b);
    for (auto& [p, b] : live) f(b);
  }
};

MemoryPool::MemoryPool(std::unique_ptr<RawAllocator> raw)
    : raw_(std::move(raw)), impl_(std::make_unique<Impl>()) {}

MemoryPool::~MemoryPool() {
  // A segment's first block has no prev; the segment's size is the sum of its blocks.
  impl_->for_each_block([&](Block* b) {
    if (b->prev != nullptr) return;
    size_t segment = 0;
    for (const Block* x = b; x != nullptr; x = x->next) segment += x->size;
    raw_->deallocate(b->ptr, segment);
  });
  impl_->for_each_block([](Block* b) { delete b; });
}

size_t MemoryPool::round_size(size_t bytes) {
  KESTREL_CHECK(bytes <= std::numeric_limits<size_t>::max() - kLargeRound,
                "MemoryPool: a request of {} bytes is too large", bytes);
  if (bytes < kMinBlockSize) return kMinBlockSize;
  return (bytes + kMinBlockSize - 1) / kMinBlockSize * kMinBlockSize;
}

size_t MemoryPool::segment_size(size_t bytes) {
  const size_t size = round_size(bytes);
  if (size <= kSmallSize) return kSmallSegment;
  return (size + kLargeRound - 1) / kLargeRound * kLargeRound;
}

void* MemoryPool::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  const bool small = size <= kSmallSize;
  std::lock_guard lock(mutex_);
  Impl& im = *impl_;
  PoolStats& st = im.stats;

  Block* block = im.take_best_fit(size, small);
  if (block != nullptr) {
    ++st.cache_hits;
  } else {
    // A new segment. On failure the cache may be holding what the raw allocator lacks (on a
    // GPU, other sizes' segments): give back the wholly free segments and try once more. Not
    // while holding: that is a CUDA Graph capture, which a cudaFree would invalidate.
    const size_t segment = segment_size(bytes);
    auto record = std::make_unique<Block>();  // before the raw call, so it cannot leak memory
    void* p = nullptr;
    try {
      p = raw_->allocate(segment);
    } catch (...) {
      if (holding_ || im.release_free_segments(*raw_) == 0) throw;
      ++st.oom_retries;
    }
    if (p == nullptr) p = raw_->allocate(segment);
    KESTREL_CHECK(p != nullptr, "MemoryPool({}): the raw allocator returned null for {} bytes",
                  raw_->name(), segment);
    record->ptr = static_cast<char*>(p);
    record->size = segment;
    record->small = small;
    block = record.release();
    ++st.raw_allocations;
    ++st.segments;
    st.reserved_bytes += segment;
  }

  im.split(block, size);
  block->allocated = true;
  im.live.emplace(block->ptr, block);
  ++st.allocations;
  st.in_use_bytes += block->size;
  st.peak_in_use_bytes = std::max(st.peak_in_use_bytes, st.in_use_bytes);
  return block->ptr;
}

void MemoryPool::deallocate(void* ptr) {
  std::lock_guard lock(mutex_);
  Impl& im = *impl_;
  const auto it = im.live.find(ptr);
  if (it == im.live.end()) KESTREL_FAIL("{}", im.describe_bad_pointer(ptr, raw_->name()));
  if (holding_) {
    KESTREL_CHECK(std::find(held_.begin(), held_.end(), ptr) == held_.end(),
                  "MemoryPool ({}): block {} freed twice while holding", raw_->name(), ptr);
    held_.push_back(ptr);
    return;
  }
  Block* block = it->second;
  im.live.erase(it);
  block->allocated = false;
  im.stats.in_use_bytes -= block->size;
  im.coalesce(block);
  im.add_free(block);
}

void MemoryPool::begin_holding() {
  std::lock_guard lock(mutex_);
  KESTREL_CHECK(!holding_, "MemoryPool ({}): already holding freed blocks", raw_->name());
  holding_ = true;
}

std::vector<void*> MemoryPool::end_holding() {
  std::lock_guard lock(mutex_);
  holding_ = false;
  return std::exchange(held_, {});
}

void MemoryPool::release_cached() {
  std::lock_guard lock(mutex_);
  impl_->release_free_segments(*raw_);
}

PoolStats MemoryPool::stats() const {
  std::lock_guard lock(mutex_);
  PoolStats st = impl_->stats;
  for (const FreeBlocks* blocks : {&impl_->small_free, &impl_->large_free})
    if (!blocks->empty())
      st.largest_free_block = std::max(st.largest_free_block, (*blocks->rbegin())->size);
  return st;
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
