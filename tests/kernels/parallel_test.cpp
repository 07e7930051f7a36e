// kernels/cpu/parallel.hpp: loops with little work stay on the calling thread, larger ones are
// spread over the threads, and either way every index runs exactly once.
#include "kernels/cpu/parallel.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

namespace kestrel {
namespace {

struct ThreadsSeen {
  std::vector<int> runs;  // times each index ran
  std::atomic<bool> in_parallel{false};
  std::atomic<bool> other_thread{false};
  explicit ThreadsSeen(int64_t n) : runs(static_cast<size_t>(n), 0) {}
  void record(int64_t i) {
    ++runs[static_cast<size_t>(i)];
    if (omp_in_parallel()) in_parallel = true;
    if (omp_get_thread_num() != 0) other_thread = true;
  }
  bool each_once() const {
    for (int r : runs)
      if (r != 1) return false;
    return true;
  }
};

class ParallelFor : public ::testing::Test {
 protected:
  void SetUp() override { cpu::set_num_threads(2); }
  void TearDown() override { cpu::set_num_threads(0); }
};

TEST_F(ParallelFor, LittleWorkRunsOnTheCallingThread) {
  ThreadsSeen seen(1000);
  cpu::parallel_for(
      1000, [&](int64_t i) { seen.record(i); }, cpu::kMinParallelWork - 1);
  EXPECT_TRUE(seen.each_once());
  EXPECT_FALSE(seen.in_parallel);

  ThreadsSeen launched(1000);
  cpu::launch(1000, [&](int64_t i) { launched.record(i); });  // 1000 element operations
  EXPECT_TRUE(launched.each_once());
  EXPECT_FALSE(launched.in_parallel);

  ThreadsSeen single(1);
  cpu::parallel_for(1, [&](int64_t i) { single.record(i); });  // one iteration, no estimate
  EXPECT_TRUE(single.each_once());
  EXPECT_FALSE(single.in_parallel);
}

TEST_F(ParallelFor, EnoughWorkUsesTheThreads) {
  ThreadsSeen seen(1000);
  cpu::parallel_for(
      1000, [&](int64_t i) { seen.record(i); }, cpu::kMinParallelWork);
  EXPECT_TRUE(seen.each_once());
  EXPECT_TRUE(seen.in_parallel);
  EXPECT_TRUE(seen.other_thread);

  // 1000 rows of 100 operations each: a row functor's hint.
  ThreadsSeen rows(1000);
  cpu::launch(
      1000, [&](int64_t i) { rows.record(i); }, 100);
  EXPECT_TRUE(rows.each_once());
  EXPECT_TRUE(rows.in_parallel);

  ThreadsSeen unestimated(2);  // no estimate: always on the threads
  cpu::parallel_for(2, [&](int64_t i) { unestimated.record(i); });
  EXPECT_TRUE(unestimated.each_once());
  EXPECT_TRUE(unestimated.in_parallel);
}

TEST_F(ParallelFor, ChunksCoverTheRangeOnce) {
  for (const int64_t n : {int64_t{0}, int64_t{1}, int64_t{4095}, int64_t{4096}, int64_t{10001}}) {
    std::vector<int> runs(static_cast<size_t>(n), 0);
    cpu::parallel_for_chunks(n, 4096, [&](int64_t begin, int64_t end) {
      EXPECT_EQ(begin % 4096, 0);
      for (int64_t i = begin; i < end; ++i) ++runs[static_cast<size_t>(i)];
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(runs[static_cast<size_t>(i)], 1) << n << " " << i;
  }
}

}  // namespace
}  // namespace kestrel
