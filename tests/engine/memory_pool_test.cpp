// MemoryPool on an injected fake raw allocator: reuse, splitting, coalescing, release, the
// out-of-memory retry, stats invariants under random and concurrent use, and bad frees.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/memory/memory_pool.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

constexpr size_t KiB = 1024;
constexpr size_t MiB = 1024 * 1024;

// What the fake raw allocator saw; shared with the test so it outlives the pool.
struct RawLog {
  std::mutex mutex;
  std::map<void*, size_t> live;  // raw allocations not yet returned
  size_t live_bytes = 0;
  size_t budget = SIZE_MAX;      // allocations beyond this many live bytes fail
  uint64_t allocations = 0;
  uint64_t deallocations = 0;
  uint64_t bad_deallocations = 0;  // unknown pointer or wrong size passed back

  size_t live_count() {
    std::lock_guard lock(mutex);
    return live.size();
  }
};

// Real memory (so blocks can be written), every call recorded, a byte budget to simulate OOM.
class FakeRawAllocator final : public RawAllocator {
 public:
  explicit FakeRawAllocator(std::shared_ptr<RawLog> log) : log_(std::move(log)) {}

  void* allocate(size_t bytes) override {
    std::lock_guard lock(log_->mutex);
    KESTREL_CHECK(log_->live_bytes + bytes <= log_->budget,
                  "fake: out of memory allocating {} bytes ({} of {} in use)", bytes,
                  log_->live_bytes, log_->budget);
    void* p = ::operator new(bytes, std::align_val_t{256});
    log_->live.emplace(p, bytes);
    log_->live_bytes += bytes;
    ++log_->allocations;
    return p;
  }

  void deallocate(void* ptr, size_t bytes) override {
    std::lock_guard lock(log_->mutex);
    ++log_->deallocations;
    const auto it = log_->live.find(ptr);
    if (it == log_->live.end() || it->second != bytes) {
      ++log_->bad_deallocations;  // recorded, not thrown: the pool's destructor calls this
      return;
    }
    log_->live_bytes -= bytes;
    log_->live.erase(it);
    ::operator delete(ptr, std::align_val_t{256});
  }

  std::string name() const override { return "fake"; }

 private:
  std::shared_ptr<RawLog> log_;
};

struct PoolFixture {
  std::shared_ptr<RawLog> log = std::make_shared<RawLog>();
  std::unique_ptr<MemoryPool> pool =
      std::make_unique<MemoryPool>(std::make_unique<FakeRawAllocator>(log));
};

uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// The raw allocation (segment) holding p, as (base, size); (0, 0) when none does.
std::pair<uintptr_t, size_t> segment_of(RawLog& log, const void* p) {
  std::lock_guard lock(log.mutex);
  for (const auto& [base, size] : log.live)
    if (address(base) <= address(p) && address(p) < address(base) + size)
      return {address(base), size};
  return {0, 0};
}

std::string error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no kestrel::Error thrown";
}

// Stats that must hold in every state, checked against the raw allocator's own record.
void expect_consistent(const PoolStats& st, RawLog& log) {
  EXPECT_EQ(st.in_use_bytes + st.cached_bytes, st.reserved_bytes);
  EXPECT_GE(st.peak_in_use_bytes, st.in_use_bytes);
  EXPECT_LE(st.largest_free_block, st.cached_bytes);
  std::lock_guard lock(log.mutex);
  EXPECT_EQ(st.reserved_bytes, log.live_bytes);
  EXPECT_EQ(st.segments, log.live.size());
  EXPECT_EQ(st.raw_allocations, log.allocations);
}

TEST(MemoryPool, RoundsRequestsAndSizesSegments) {
  EXPECT_EQ(MemoryPool::round_size(0), 512u);
  EXPECT_EQ(MemoryPool::round_size(1), 512u);
  EXPECT_EQ(MemoryPool::round_size(512), 512u);
  EXPECT_EQ(MemoryPool::round_size(513), 1024u);
  EXPECT_EQ(MemoryPool::round_size(MiB), MiB);
  EXPECT_EQ(MemoryPool::segment_size(1), 2 * MiB);
  EXPECT_EQ(MemoryPool::segment_size(MiB), 2 * MiB);
  EXPECT_EQ(MemoryPool::segment_size(MiB + 1), 2 * MiB);
  EXPECT_EQ(MemoryPool::segment_size(2 * MiB + 1), 4 * MiB);
  EXPECT_EQ(MemoryPool::segment_size(11 * MiB), 12 * MiB);
  EXPECT_EQ(MemoryPool::segment_size(12 * MiB), 12 * MiB);
  EXPECT_NE(error_text([] { MemoryPool::round_size(SIZE_MAX - 10); }).find("too large"),
            std::string::npos);
}

TEST(MemoryPool, FreedBlockIsReusedWithoutRawAllocation) {
  PoolFixture f;
  for (const size_t bytes : {size_t{1000}, 3 * MiB}) {
    SCOPED_TRACE(bytes);
    void* p = f.pool->allocate(bytes);
    const uint64_t raw_before = f.log->allocations;
    const uint64_t hits_before = f.pool->stats().cache_hits;
    f.pool->deallocate(p);
    void* q = f.pool->allocate(bytes);
    EXPECT_EQ(q, p);
    EXPECT_EQ(f.log->allocations, raw_before);
    EXPECT_EQ(f.pool->stats().cache_hits, hits_before + 1);
    f.pool->deallocate(q);
  }
  const PoolStats st = f.pool->stats();
  EXPECT_EQ(st.allocations, 4u);
  EXPECT_EQ(st.raw_allocations, 2u);  // one small segment, one large
  EXPECT_EQ(st.cache_hits, 2u);
  EXPECT_EQ(st.in_use_bytes, 0u);
  expect_consistent(st, *f.log);
}

TEST(MemoryPool, HeldBlocksStayTakenUntilTheirOwnerFreesThem) {
  // What a captured CUDA Graph needs: memory freed during the capture is not handed out again
  // while the graph may still write to it.
  PoolFixture f;
  void* before = f.pool->allocate(4096);
  f.pool->begin_holding();
  void* a = f.pool->allocate(4096);
  f.pool->deallocate(a);
  void* b = f.pool->allocate(4096);
  EXPECT_NE(b, a);  // not cached: a is still held
  f.pool->deallocate(b);
  EXPECT_NE(error_text([&] { f.pool->deallocate(b); }).find("freed twice while holding"),
            std::string::npos);
  EXPECT_NE(error_text([&] { f.pool->begin_holding(); }).find("already holding"),
            std::string::npos);
  std::vector<void*> held = f.pool->end_holding();
  EXPECT_EQ(held, (std::vector<void*>{a, b}));
  EXPECT_EQ(f.pool->stats().in_use_bytes, 3 * 4096u);
  for (void* p : held) f.pool->deallocate(p);
  f.pool->deallocate(before);
  // Freed normally again: the next request reuses a block.
  void* c = f.pool->allocate(4096);
  EXPECT_TRUE(c == a || c == b || c == before);
  f.pool->deallocate(c);
  EXPECT_EQ(f.pool->stats().in_use_bytes, 0u);
  expect_consistent(f.pool->stats(), *f.log);
}

TEST(MemoryPool, SmallRequestsShareOneSegment) {
  PoolFixture f;
  const std::vector<size_t> sizes = {1, 512, 513, 1000, 4096, 70000, 300 * KiB, 100, 1 * MiB - 1};
  std::vector<void*> ptrs;
  for (size_t s : sizes) ptrs.push_back(f.pool->allocate(s));
  ASSERT_EQ(f.log->live_count(), 1u);  // total 1.4 MiB: all fit one 2 MiB segment
  const auto [base, segment] = segment_of(*f.log, ptrs[0]);
  EXPECT_EQ(segment, MemoryPool::kSmallSegment);

  std::vector<std::pair<uintptr_t, size_t>> ranges;  // (address, rounded size)
  for (size_t i = 0; i < sizes.size(); ++i) {
    const uintptr_t a = address(ptrs[i]);
    const size_t rounded = MemoryPool::round_size(sizes[i]);
    EXPECT_EQ((a - base) % 512, 0u) << "block " << i;
    EXPECT_GE(a, base);
    EXPECT_LE(a + rounded, base + segment) << "block " << i;
    ranges.emplace_back(a, rounded);
    std::memset(ptrs[i], static_cast<int>(i + 1), sizes[i]);  // the memory must be writable
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    EXPECT_LE(ranges[i - 1].first + ranges[i - 1].second, ranges[i].first) << "overlap";
  for (size_t i = 0; i < sizes.size(); ++i)
    for (size_t k = 0; k < sizes[i]; ++k)
      ASSERT_EQ(static_cast<unsigned char*>(ptrs[i])[k], i + 1) << "block " << i << " byte " << k;

  size_t rounded_total = 0;
  for (size_t s : sizes) rounded_total += MemoryPool::round_size(s);
  const PoolStats st = f.pool->stats();
  EXPECT_EQ(st.in_use_bytes, rounded_total);  // small blocks are split exactly
  EXPECT_EQ(st.cached_bytes, 2 * MiB - rounded_total);
  EXPECT_EQ(st.largest_free_block, 2 * MiB - rounded_total);
  expect_consistent(st, *f.log);

  // A large request never takes the small segment's free tail.
  void* large = f.pool->allocate(MiB + 512);
  EXPECT_EQ(segment_of(*f.log, large).first, address(large));
  EXPECT_EQ(f.log->live_count(), 2u);
  for (void* p : ptrs) f.pool->deallocate(p);
  f.pool->deallocate(large);
}

TEST(MemoryPool, LargeBlocksSplitOnlyWhenTheRestIsLarge) {
  PoolFixture f;
  void* big = f.pool->allocate(10 * MiB);
  f.pool->deallocate(big);
  // 4 MiB out of the cached 10 MiB segment leaves 6 MiB cached, which serves 6 MiB exactly.
  void* a = f.pool->allocate(4 * MiB);
  void* b = f.pool->allocate(6 * MiB);
  EXPECT_EQ(a, big);
  EXPECT_EQ(address(b), address(big) + 4 * MiB);
  EXPECT_EQ(f.log->allocations, 1u);
  EXPECT_EQ(f.pool->stats().cached_bytes, 0u);
  f.pool->deallocate(a);
  f.pool->deallocate(b);

  // A rest of 1 MiB or less stays with the block and counts as in use.
  f.pool->release_cached();
  void* c = f.pool->allocate(MiB + 512);  // segment of 2 MiB, rest 1 MiB - 512
  PoolStats st = f.pool->stats();
  EXPECT_EQ(st.in_use_bytes, 2 * MiB);
  EXPECT_EQ(st.cached_bytes, 0u);
  expect_consistent(st, *f.log);
  f.pool->deallocate(c);
  st = f.pool->stats();
  EXPECT_EQ(st.in_use_bytes, 0u);
  EXPECT_EQ(st.cached_bytes, 2 * MiB);
}

TEST(MemoryPool, HolesDoNotServeALargerRequestUntilTheyCoalesce) {
  PoolFixture f;
  f.log->budget = 2 * MiB;  // one small segment and no more
  // A, B, C adjacent, D1 and D2 fill the rest of the segment.
  void* a = f.pool->allocate(256 * KiB);
  void* b = f.pool->allocate(256 * KiB);
  void* c = f.pool->allocate(256 * KiB);
  void* d1 = f.pool->allocate(MiB);
  void* d2 = f.pool->allocate(256 * KiB);
  ASSERT_EQ(f.log->allocations, 1u);
  ASSERT_EQ(address(b), address(a) + 256 * KiB);
  ASSERT_EQ(address(c), address(b) + 256 * KiB);
  ASSERT_EQ(f.pool->stats().cached_bytes, 0u);

  f.pool->deallocate(a);
  f.pool->deallocate(c);
  PoolStats st = f.pool->stats();
  EXPECT_EQ(st.cached_bytes, 512 * KiB);
  EXPECT_EQ(st.largest_free_block, 256 * KiB);
  EXPECT_DOUBLE_EQ(st.fragmentation(), 0.5);
  // 768 KiB does not fit a 256 KiB hole, and the budget forbids a second segment.
  const std::string oom = error_text([&] { f.pool->allocate(768 * KiB); });
  EXPECT_NE(oom.find("fake: out of memory allocating 2097152 bytes"), std::string::npos) << oom;
  EXPECT_EQ(f.log->allocations, 1u);

  f.pool->deallocate(b);  // A, B and C merge into one 768 KiB block
  st = f.pool->stats();
  EXPECT_EQ(st.largest_free_block, 768 * KiB);
  EXPECT_DOUBLE_EQ(st.fragmentation(), 0.0);
  void* abc = f.pool->allocate(768 * KiB);
  EXPECT_EQ(abc, a);
  EXPECT_EQ(f.log->allocations, 1u);
  expect_consistent(f.pool->stats(), *f.log);

  // Freeing everything leaves one block covering the whole segment.
  f.pool->deallocate(abc);
  f.pool->deallocate(d2);
  f.pool->deallocate(d1);
  st = f.pool->stats();
  EXPECT_EQ(st.largest_free_block, 2 * MiB);
  EXPECT_EQ(st.cached_bytes, 2 * MiB);
}

TEST(MemoryPool, LargeSplitsCoalesceBackToTheWholeSegment) {
  PoolFixture f;
  void* whole = f.pool->allocate(8 * MiB);
  f.pool->deallocate(whole);
  std::vector<void*> quarters;
  for (int i = 0; i < 4; ++i) quarters.push_back(f.pool->allocate(2 * MiB));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(address(quarters[static_cast<size_t>(i)]),
                                        address(whole) + static_cast<size_t>(i) * 2 * MiB);
  EXPECT_EQ(f.log->allocations, 1u);
  // Free the outer ones first (two separate holes), then the inner ones.
  f.pool->deallocate(quarters[0]);
  f.pool->deallocate(quarters[2]);
  EXPECT_EQ(f.pool->stats().largest_free_block, 2 * MiB);
  f.pool->deallocate(quarters[3]);
  EXPECT_EQ(f.pool->stats().largest_free_block, 4 * MiB);
  f.pool->deallocate(quarters[1]);
  EXPECT_EQ(f.pool->stats().largest_free_block, 8 * MiB);
  EXPECT_EQ(f.pool->allocate(8 * MiB), whole);
  EXPECT_EQ(f.log->allocations, 1u);
}

TEST(MemoryPool, ReleaseCachedFreesOnlyWhollyFreeSegments) {
  PoolFixture f;
  void* kept = f.pool->allocate(1000);      // small segment, stays partly in use
  void* neighbour = f.pool->allocate(5000);  // same segment, freed below
  void* large1 = f.pool->allocate(4 * MiB);
  void* large2 = f.pool->allocate(6 * MiB);
  ASSERT_EQ(f.log->live_count(), 3u);
  f.pool->deallocate(neighbour);
  f.pool->deallocate(large1);
  f.pool->deallocate(large2);
  PoolStats st = f.pool->stats();
  EXPECT_EQ(st.reserved_bytes, 12 * MiB);
  EXPECT_EQ(st.segments, 3u);

  f.pool->release_cached();
  st = f.pool->stats();
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.reserved_bytes, 2 * MiB);
  EXPECT_EQ(st.cached_bytes, 2 * MiB - 1024);
  EXPECT_EQ(st.in_use_bytes, 1024u);
  expect_consistent(st, *f.log);
  EXPECT_EQ(segment_of(*f.log, kept).second, 2 * MiB);

  f.pool->deallocate(kept);
  f.pool->release_cached();
  st = f.pool->stats();
  EXPECT_EQ(st.segments, 0u);
  EXPECT_EQ(st.reserved_bytes, 0u);
  EXPECT_EQ(st.cached_bytes, 0u);
  EXPECT_EQ(st.largest_free_block, 0u);
  EXPECT_EQ(f.log->live_count(), 0u);
  EXPECT_EQ(f.log->bad_deallocations, 0u);
}

// An 8 MiB budget spent on two 4 MiB segments, both cached (allocated, then freed).
void cache_two_segments_filling_the_budget(PoolFixture& f) {
  f.log->budget = 8 * MiB;
  void* a = f.pool->allocate(4 * MiB);
  void* b = f.pool->allocate(4 * MiB);
  f.pool->deallocate(a);
  f.pool->deallocate(b);
}

TEST(MemoryPool, OutOfMemoryReleasesTheCacheAndRetries) {
  PoolFixture f;
  cache_two_segments_filling_the_budget(f);
  // Two cached 4 MiB segments cannot serve 6 MiB and the budget is spent: the pool must give
  // them back and try again.
  void* c = f.pool->allocate(6 * MiB);
  PoolStats st = f.pool->stats();
  EXPECT_EQ(st.oom_retries, 1u);
  EXPECT_EQ(st.raw_allocations, 3u);
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.reserved_bytes, 6 * MiB);
  EXPECT_EQ(st.in_use_bytes, 6 * MiB);
  expect_consistent(st, *f.log);

  // Truly out: nothing to release, the raw allocator's error (with the bytes) comes through
  // and the pool is unchanged.
  const std::string oom = error_text([&] { f.pool->allocate(4 * MiB); });
  EXPECT_NE(oom.find("out of memory allocating 4194304 bytes"), std::string::npos) << oom;
  PoolStats after = f.pool->stats();
  EXPECT_EQ(after.allocations, st.allocations);
  EXPECT_EQ(after.in_use_bytes, 6 * MiB);
  EXPECT_EQ(after.oom_retries, 1u);
  expect_consistent(after, *f.log);

  // Out even after releasing: the cached segment is gone, the error still comes through.
  void* d = f.pool->allocate(2 * MiB);  // fits the budget exactly
  f.pool->deallocate(d);
  const std::string oom2 = error_text([&] { f.pool->allocate(4 * MiB); });
  EXPECT_NE(oom2.find("out of memory allocating 4194304 bytes"), std::string::npos) << oom2;
  after = f.pool->stats();
  EXPECT_EQ(after.oom_retries, 2u);
  EXPECT_EQ(after.reserved_bytes, 6 * MiB);
  expect_consistent(after, *f.log);

  f.pool->deallocate(c);
  EXPECT_NE(f.pool->allocate(8 * MiB), nullptr);  // retry after release: the whole budget
  EXPECT_EQ(f.pool->stats().oom_retries, 3u);
}

TEST(MemoryPool, WhileHoldingOutOfMemoryReleasesNothing) {
  // Holding is what a CUDA Graph capture does, and a cudaFree would invalidate the capture:
  // the raw allocator's error comes through and the cached segments stay.
  PoolFixture f;
  cache_two_segments_filling_the_budget(f);
  f.pool->begin_holding();
  const std::string oom = error_text([&] { f.pool->allocate(6 * MiB); });
  EXPECT_NE(oom.find("out of memory allocating"), std::string::npos) << oom;
  EXPECT_EQ(f.log->deallocations, 0u);
  EXPECT_EQ(f.pool->stats().segments, 2u);
  EXPECT_EQ(f.pool->stats().oom_retries, 0u);
  EXPECT_TRUE(f.pool->end_holding().empty());
  // Once the capture is over, the same request releases the cache and succeeds.
  EXPECT_NE(f.pool->allocate(6 * MiB), nullptr);
  EXPECT_EQ(f.pool->stats().oom_retries, 1u);
  expect_consistent(f.pool->stats(), *f.log);
}

// Fills a block with a byte pattern derived from its id, and checks it is intact.
void fill_pattern(void* p, size_t bytes, uint64_t id) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t k = 0; k < bytes; k += 64) b[k] = static_cast<unsigned char>(id * 131 + k / 64);
  if (bytes > 0) b[bytes - 1] = static_cast<unsigned char>(id);
}
bool pattern_intact(const void* p, size_t bytes, uint64_t id) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t k = 0; k + 1 < bytes; k += 64)
    if (b[k] != static_cast<unsigned char>(id * 131 + k / 64)) return false;
  return bytes == 0 || b[bytes - 1] == static_cast<unsigned char>(id);
}

struct LiveBlock {
  void* ptr;
  size_t bytes;
  uint64_t id;
};

// Mostly small requests, some up to 1 MiB, a few large ones, and zero.
size_t random_request(std::mt19937_64& gen) {
  const int kind = std::uniform_int_distribution<int>(0, 99)(gen);
  if (kind < 2) return 0;
  if (kind < 70) return std::uniform_int_distribution<size_t>(1, 64 * KiB)(gen);
  if (kind < 92) return std::uniform_int_distribution<size_t>(64 * KiB, MiB)(gen);
  return std::uniform_int_distribution<size_t>(MiB + 1, 9 * MiB)(gen);
}

TEST(MemoryPool, RandomSequenceKeepsStatsAndContentsConsistent) {
  const uint64_t seed = test::test_seed();
  SCOPED_TRACE(::testing::Message() << "KESTREL_TEST_SEED=" << seed);
  std::mt19937_64 gen(seed);
  PoolFixture f;
  std::vector<LiveBlock> live;
  std::map<uintptr_t, size_t> ranges;  // live address -> requested bytes, to catch overlap
  uint64_t next_id = 0;
  uint64_t allocations = 0;
  for (int step = 0; step < 3000; ++step) {
    const bool allocate =
        live.empty() || (live.size() < 64 && std::bernoulli_distribution(0.55)(gen));
    if (allocate) {
      const size_t bytes = random_request(gen);
      void* p = f.pool->allocate(bytes);
      ++allocations;
      const uintptr_t a = address(p);
      const size_t extent = std::max<size_t>(bytes, 1);
      const auto after = ranges.lower_bound(a);
      if (after != ranges.end()) {
        ASSERT_LE(a + extent, after->first) << "step " << step;
      }
      if (after != ranges.begin()) {
        const auto before = std::prev(after);
        ASSERT_LE(before->first + std::max<size_t>(before->second, 1), a) << "step " << step;
      }
      ranges.emplace(a, bytes);
      fill_pattern(p, bytes, next_id);
      live.push_back({p, bytes, next_id++});
    } else {
      const size_t i = std::uniform_int_distribution<size_t>(0, live.size() - 1)(gen);
      const LiveBlock b = live[i];
      ASSERT_TRUE(pattern_intact(b.ptr, b.bytes, b.id)) << "block " << b.id << " step " << step;
      f.pool->deallocate(b.ptr);
      ranges.erase(address(b.ptr));
      live[i] = live.back();
      live.pop_back();
    }
    if (std::bernoulli_distribution(0.01)(gen)) f.pool->release_cached();

    const PoolStats st = f.pool->stats();
    size_t rounded = 0;
    for (const LiveBlock& b : live) rounded += MemoryPool::round_size(b.bytes);
    ASSERT_EQ(st.in_use_bytes + st.cached_bytes, st.reserved_bytes) << "step " << step;
    ASSERT_GE(st.peak_in_use_bytes, st.in_use_bytes);
    ASSERT_GE(st.in_use_bytes, rounded);  // unsplit large slack may add to it
    ASSERT_LE(st.largest_free_block, st.cached_bytes);
    ASSERT_EQ(st.allocations, allocations);
    ASSERT_EQ(st.raw_allocations + st.cache_hits, allocations);
    std::lock_guard lock(f.log->mutex);
    ASSERT_EQ(st.reserved_bytes, f.log->live_bytes) << "step " << step;
    ASSERT_EQ(st.segments, f.log->live.size()) << "step " << step;
  }
  EXPECT_GT(f.pool->stats().cache_hits, 0u);
  for (const LiveBlock& b : live) {
    ASSERT_TRUE(pattern_intact(b.ptr, b.bytes, b.id)) << "block " << b.id;
    f.pool->deallocate(b.ptr);
  }
  EXPECT_EQ(f.pool->stats().in_use_bytes, 0u);
  // Every segment must have coalesced back into one free block, or release would keep it.
  f.pool->release_cached();
  EXPECT_EQ(f.pool->stats().reserved_bytes, 0u);
  EXPECT_EQ(f.log->live_count(), 0u);
  EXPECT_EQ(f.log->bad_deallocations, 0u);
}

TEST(MemoryPool, TwoThreadsAllocatingAndFreeingConcurrently) {
  const uint64_t seed = test::test_seed() + 17;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  PoolFixture f;
  constexpr int kSteps = 20000;
  std::vector<std::string> failures(2);
  std::vector<uint64_t> allocations(2, 0);
  std::atomic<int> ready{0};
  auto work = [&](int t) {
    std::string& failure = failures[static_cast<size_t>(t)];
    std::mt19937_64 gen(seed + static_cast<uint64_t>(t));
    std::vector<LiveBlock> live;
    uint64_t id = static_cast<uint64_t>(t) << 32;
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }  // start together, so that the two really overlap
    for (int step = 0; step < kSteps; ++step) {
      if (live.size() < 8 && (live.empty() || std::bernoulli_distribution(0.6)(gen))) {
        const size_t bytes = random_request(gen) / 4;  // up to 2.25 MiB: both pools
        void* p = f.pool->allocate(bytes);
        ++allocations[static_cast<size_t>(t)];
        fill_pattern(p, bytes, id);
        live.push_back({p, bytes, id++});
      } else {
        const LiveBlock b = live.front();
        live.erase(live.begin());
        if (!pattern_intact(b.ptr, b.bytes, b.id) && failure.empty())
          failure = "corrupted block at step " + std::to_string(step);
        f.pool->deallocate(b.ptr);
      }
      const PoolStats st = f.pool->stats();  // one consistent snapshot under the lock
      if (st.in_use_bytes + st.cached_bytes != st.reserved_bytes && failure.empty())
        failure = "in_use + cached != reserved at step " + std::to_string(step);
    }
    for (const LiveBlock& b : live) f.pool->deallocate(b.ptr);
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
  const PoolStats st = f.pool->stats();
  EXPECT_EQ(st.allocations, allocations[0] + allocations[1]);
  EXPECT_EQ(st.in_use_bytes, 0u);
  EXPECT_EQ(st.raw_allocations + st.cache_hits, st.allocations);
  EXPECT_GT(st.cache_hits, 0u);
  expect_consistent(st, *f.log);
  f.pool->release_cached();
  EXPECT_EQ(f.log->live_count(), 0u);
}

TEST(MemoryPool, ZeroByteAllocationsAreDistinctBlocks) {
  PoolFixture f;
  void* a = f.pool->allocate(0);
  void* b = f.pool->allocate(0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(f.pool->stats().in_use_bytes, 1024u);
  std::memset(a, 0x5a, 512);  // each owns a minimal block
  std::memset(b, 0xa5, 512);
  EXPECT_EQ(static_cast<unsigned char*>(a)[511], 0x5a);
  f.pool->deallocate(a);
  f.pool->deallocate(b);
  EXPECT_EQ(f.pool->stats().in_use_bytes, 0u);
}

TEST(MemoryPool, UnknownPointerIsAnError) {
  PoolFixture f;
  int local = 0;
  const std::string text = error_text([&] { f.pool->deallocate(&local); });
  EXPECT_NE(text.find("MemoryPool(fake): deallocate of unknown pointer"), std::string::npos)
      << text;
  char* p = static_cast<char*>(f.pool->allocate(4096));
  const std::string inner = error_text([&] { f.pool->deallocate(p + 512); });
  EXPECT_NE(inner.find("which points 512 bytes into the block of 4096 bytes"), std::string::npos)
      << inner;
  EXPECT_EQ(f.pool->stats().in_use_bytes, 4096u);  // the failed frees changed nothing
  f.pool->deallocate(p);
}

TEST(MemoryPool, DoubleFreeIsAnError) {
  PoolFixture f;
  void* p = f.pool->allocate(3000);
  void* q = f.pool->allocate(3000);
  f.pool->deallocate(p);
  const PoolStats before = f.pool->stats();
  const std::string text = error_text([&] { f.pool->deallocate(p); });
  EXPECT_NE(text.find("MemoryPool(fake): double free of"), std::string::npos) << text;
  const PoolStats after = f.pool->stats();
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  f.pool->deallocate(q);
}

TEST(MemoryPool, DestructorReturnsEverySegment) {
  PoolFixture f;
  f.pool->allocate(100);                          // live, small
  f.pool->deallocate(f.pool->allocate(200000));   // cached, same small segment
  f.pool->allocate(5 * MiB);                      // live, large
  void* big = f.pool->allocate(20 * MiB);
  f.pool->deallocate(big);
  f.pool->allocate(3 * MiB);                      // split out of the cached 20 MiB segment
  ASSERT_EQ(f.log->live_count(), 3u);
  f.pool.reset();
  EXPECT_EQ(f.log->live_count(), 0u);
  EXPECT_EQ(f.log->deallocations, 3u);
  EXPECT_EQ(f.log->bad_deallocations, 0u);  // each with the size it was allocated with
}

TEST(MemoryPool, PeakTracksHighWaterMarkAndResets) {
  PoolFixture f;
  void* a = f.pool->allocate(MiB);
  void* b = f.pool->allocate(512 * KiB);
  f.pool->deallocate(a);
  EXPECT_EQ(f.pool->stats().peak_in_use_bytes, MiB + 512 * KiB);
  f.pool->reset_peak();
  EXPECT_EQ(f.pool->stats().peak_in_use_bytes, 512 * KiB);
  f.pool->deallocate(b);
  EXPECT_EQ(f.pool->stats().peak_in_use_bytes, 512 * KiB);
}

TEST(MemoryPool, WorksOverTheHostAllocator) {
  MemoryPool pool(std::make_unique<HostAllocator>());
  void* p = pool.allocate(10000);
  std::memset(p, 7, 10000);
  EXPECT_EQ(address(p) % 512, 0u);  // host segments are page-aligned
  pool.deallocate(p);
  EXPECT_EQ(pool.allocate(10000), p);
  EXPECT_EQ(pool.stats().raw_allocations, 1u);
  EXPECT_EQ(pool.raw().name(), "host");

  MemoryPool& shared = host_pool();
  EXPECT_EQ(shared.raw().name(), "host");
  const size_t before = shared.stats().in_use_bytes;
  void* q = shared.allocate(10000);
  std::memset(q, 7, 10000);
  EXPECT_EQ(shared.stats().in_use_bytes, before + MemoryPool::round_size(10000));
  shared.deallocate(q);
  EXPECT_EQ(shared.stats().in_use_bytes, before);
}

}  // namespace
}  // namespace kestrel
