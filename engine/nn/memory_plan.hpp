#pragma once
// Places blocks of memory with known lifetimes in one arena, so that two blocks share bytes
// only if they are never live at the same time (the static planning ggml's graph allocator and
// TFLite's arena planner do). The graph gives every activation, activation gradient, saved
// state and gradient scratch a block whose lifetime is the span of steps (forward of node 0 to
// backward of node 0) from its first write to its last read.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kestrel::nn {

// What a block holds (for summaries and tests; the planner treats all alike).
enum class BlockKind { Activation, Gradient, Saved, Scratch };

struct MemoryBlock {
  int64_t bytes = 0;
  int first = 0, last = 0;  // live over the steps [first, last]
  BlockKind kind = BlockKind::Activation;
};

struct MemoryPlan {
  std::vector<int64_t> offsets;  // per block, bytes from the arena's start, aligned
  int64_t arena_bytes = 0;       // the arena's size: the planned peak
  int64_t unplanned_bytes = 0;   // the blocks' sizes summed (every block on its own)
};

// Greedy by size: blocks from the largest down (ties: earlier first step, then index), each at
// the lowest aligned offset where it overlaps no placed block whose lifetime meets its own.
// Deterministic; the arena is at least the largest sum of simultaneously live blocks.
MemoryPlan plan_memory(std::span<const MemoryBlock> blocks, int64_t alignment);

// "" when no two blocks with meeting lifetimes overlap in the plan and every block is aligned
// and inside the arena; otherwise a line naming the first conflict (for tests and checks).
std::string find_plan_conflict(std::span<const MemoryBlock> blocks, const MemoryPlan& plan,
                               int64_t alignment);

}  // namespace kestrel::nn
