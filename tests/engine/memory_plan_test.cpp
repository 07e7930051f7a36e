// The arena planner: no two blocks with meeting lifetimes share a byte, offsets are aligned,
// the arena is never below the largest sum of simultaneously live blocks (checked against a
// sweep written here), disjoint lifetimes reuse memory, and the plan is deterministic.
#include "engine/nn/memory_plan.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/random.hpp"

namespace kestrel {
namespace {

// The largest total of bytes live at one step: a lower bound for any arena.
int64_t live_peak(const std::vector<nn::MemoryBlock>& blocks) {
  int last_step = 0;
  for (const nn::MemoryBlock& b : blocks) last_step = std::max(last_step, b.last);
  int64_t peak = 0;
  for (int t = 0; t <= last_step; ++t) {
    int64_t live = 0;
    for (const nn::MemoryBlock& b : blocks)
      if (b.first <= t && t <= b.last) live += b.bytes;
    peak = std::max(peak, live);
  }
  return peak;
}

TEST(MemoryPlan, RandomBlocksNeverOverlapWhileLive) {
  std::mt19937_64 gen(test::test_seed());
  for (int trial = 0; trial < 200; ++trial) {
    std::uniform_int_distribution<int> count(1, 40), step(0, 30);
    std::uniform_int_distribution<int64_t> size(0, 5000);
    std::vector<nn::MemoryBlock> blocks(static_cast<size_t>(count(gen)));
    for (nn::MemoryBlock& b : blocks) {
      const int a = step(gen), c = step(gen);
      b = {size(gen), std::min(a, c), std::max(a, c)};
    }
    const nn::MemoryPlan plan = nn::plan_memory(blocks, 256);
    ASSERT_EQ(nn::find_plan_conflict(blocks, plan, 256), "") << "trial " << trial;
    EXPECT_GE(plan.arena_bytes, live_peak(blocks));
    int64_t sum = 0;
    for (const nn::MemoryBlock& b : blocks) sum += b.bytes;
    EXPECT_EQ(plan.unplanned_bytes, sum);
    // The same blocks, the same plan.
    EXPECT_EQ(nn::plan_memory(blocks, 256).offsets, plan.offsets);
  }
}

TEST(MemoryPlan, DisjointLifetimesShareMemoryAndOverlappingOnesDoNot) {
  // A chain's activations: each lives two steps, so two buffers suffice.
  std::vector<nn::MemoryBlock> chain;
  for (int i = 0; i < 8; ++i) chain.push_back({1000, i, i + 1});
  const nn::MemoryPlan plan = nn::plan_memory(chain, 256);
  EXPECT_EQ(plan.arena_bytes, 2 * 1024);
  EXPECT_EQ(nn::find_plan_conflict(chain, plan, 256), "");

  // Everything live at once: nothing shared.
  std::vector<nn::MemoryBlock> together(5, nn::MemoryBlock{300, 0, 4});
  EXPECT_EQ(nn::plan_memory(together, 256).arena_bytes, 5 * 512);
}

TEST(MemoryPlan, TheConflictCheckFindsAnOverlap) {
  std::vector<nn::MemoryBlock> blocks{{100, 0, 3}, {100, 2, 5}};
  nn::MemoryPlan plan;
  plan.offsets = {0, 0};
  plan.arena_bytes = 256;
  EXPECT_NE(nn::find_plan_conflict(blocks, plan, 256).find("overlap while both are live"),
            std::string::npos);
  plan.offsets = {0, 128};
  EXPECT_NE(nn::find_plan_conflict(blocks, plan, 256).find("unaligned"), std::string::npos);
  plan.offsets = {0, 256};
  EXPECT_NE(nn::find_plan_conflict(blocks, plan, 256).find("outside"), std::string::npos);
  plan.arena_bytes = 512;
  EXPECT_EQ(nn::find_plan_conflict(blocks, plan, 256), "");
}

}  // namespace
}  // namespace kestrel
