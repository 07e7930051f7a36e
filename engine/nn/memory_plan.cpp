#include "engine/nn/memory_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "kernels/common/error.hpp"

namespace kestrel::nn {

namespace {

int64_t align_up(int64_t n, int64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

bool lifetimes_meet(const MemoryBlock& a, const MemoryBlock& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

MemoryPlan plan_memory(std::span<const MemoryBlock> blocks, int64_t alignment) {
  KESTREL_CHECK(alignment >= 1, "plan_memory: alignment must be positive, got {}", alignment);
  MemoryPlan plan;
  plan.offsets.assign(blocks.size(), 0);
  std::vector<size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (blocks[a].bytes != blocks[b].bytes) return blocks[a].bytes > blocks[b].bytes;
    return blocks[a].first < blocks[b].first;
  });

  struct Range {
    int64_t begin, end;
  };
  std::vector<size_t> placed;
  std::vector<Range> taken;
  for (size_t i : order) {
    const MemoryBlock& block = blocks[i];
    KESTREL_CHECK(block.bytes >= 0 && block.first <= block.last,
                  "plan_memory: block {} has {} bytes over steps [{}, {}]", i, block.bytes,
                  block.first, block.last);
    plan.unplanned_bytes += block.bytes;
    // The byte ranges of placed blocks live at the same time, by offset; the block goes in the
    // first gap that holds it.
    taken.clear();
    for (size_t j : placed) {
      if (lifetimes_meet(block, blocks[j]))
        taken.push_back({plan.offsets[j], plan.offsets[j] + blocks[j].bytes});
    }
    std::sort(taken.begin(), taken.end(),
              [](const Range& a, const Range& b) { return a.begin < b.begin; });
    int64_t offset = 0;
    for (const Range& r : taken) {
      if (r.begin >= offset + block.bytes) break;
      offset = std::max(offset, align_up(r.end, alignment));
    }
    plan.offsets[i] = offset;
    plan.arena_bytes = std::max(plan.arena_bytes, align_up(offset + block.bytes, alignment));
    placed.push_back(i);
  }
  return plan;
}

std::string find_plan_conflict(std::span<const MemoryBlock> blocks, const MemoryPlan& plan,
                               int64_t alignment) {
  if (plan.offsets.size() != blocks.size())
    return fmt::format("the plan places {} blocks, not {}", plan.offsets.size(), blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const int64_t begin = plan.offsets[i], end = begin + blocks[i].bytes;
    if (begin < 0 || begin % alignment != 0 || end > plan.arena_bytes)
      return fmt::format("block {} at [{}, {}) is unaligned or outside the {}-byte arena", i, begin,
                         end, plan.arena_bytes);
    for (size_t j = 0; j < i; ++j) {
      const int64_t other_begin = plan.offsets[j], other_end = other_begin + blocks[j].bytes;
      const bool bytes_meet = begin < other_end && other_begin < end;
      if (bytes_meet && blocks[i].bytes > 0 && blocks[j].bytes > 0 &&
          lifetimes_meet(blocks[i], blocks[j]))
        return fmt::format(
            "blocks {} (bytes [{}, {}), steps [{}, {}]) and {} (bytes [{}, {}), steps [{}, {}]) "
            "overlap while both are live",
            j, other_begin, other_end, blocks[j].first, blocks[j].last, i, begin, end,
            blocks[i].first, blocks[i].last);
    }
  }
  return "";
}

}  // namespace kestrel::nn
