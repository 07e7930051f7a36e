#pragma once
// A layered layout of a graph's values for drawing (kestrel summary --svg), from its topology
// alone: value 0 is the input, value k the output of node k - 1, and node i reads values below
// i + 1 (nn::Graph's insertion order, which is topological).
//
// The graph flows top to bottom. A value's layer is its longest path from the input, so every
// edge goes at least one layer down; values of one layer sit side by side. Each value is placed
// at the mean x of the values it reads, and a layer's values are then pushed apart (in that
// order) to one box width plus a gap, the layer keeping its mean: parallel branches stay in
// straight columns and a merge (Add, Concat) sits under its branches. An edge to the next
// layer runs straight through the gap between the two layers. An edge that skips layers (a
// residual shortcut, a dense block's concatenations, a short Inception branch) runs down a lane
// beside every box of the layers it passes, on the side of its source (right when the source
// is not left of the target); skips from different values whose runs overlap get lanes a
// lane gap apart, while skips from one value share their lane, as one line branching off.
// Coordinates are pixels relative to the input's centre (x may be negative); the drawing adds
// margins and the vertical spacing.
#include <vector>

namespace kestrel::report {

struct LayoutSpacing {
  double box_width = 160.0;
  double column_gap = 24.0;  // between the boxes of one layer
  double lane_gap = 8.0;     // between two skip lanes, and between a lane and the boxes
};

struct LaidOutEdge {
  int from = 0;         // the value read
  int to = 0;           // the value its reader produces (the reader is node to - 1)
  int input_slot = 0;   // its rank among the reader's distinct inputs, in the reader's order
  bool skip = false;    // crosses more than one layer
  double lane_x = 0.0;  // a skip's vertical run
};

struct GraphLayout {
  std::vector<int> layer;            // per value
  std::vector<double> x;             // per value: its box's centre
  std::vector<LaidOutEdge> edges;    // one per distinct (value, reader), by reader, then slot
  std::vector<int> distinct_inputs;  // per value: how many distinct values its node reads
  int layer_count = 0;               // the deepest layer + 1
  double min_x = 0.0, max_x = 0.0;   // extent of every box and lane
};

// inputs[i]: the values node i reads, in its input order (a value may repeat). Throws
// kestrel::Error when node i reads a value it does not come after.
GraphLayout lay_out_graph(const std::vector<std::vector<int>>& inputs,
                          const LayoutSpacing& spacing = {});

}  // namespace kestrel::report
