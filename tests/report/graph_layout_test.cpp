// The layered layout behind kestrel summary --svg: rows by longest path, a chain in one column,
// parallel branches side by side under their source and a merge under its branches, skip edges
// in lanes beside the boxes they pass; and, on every registered model, the invariants a reader
// relies on: edges go down, boxes of a row do not overlap, no skip lane crosses a box, and lanes
// of different values never run on top of each other.
#include "engine/report/graph_layout.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/common/error.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"

namespace kestrel::report {
namespace {

using Inputs = std::vector<std::vector<int>>;

constexpr LayoutSpacing kSpacing{.box_width = 100.0, .column_gap = 20.0, .lane_gap = 8.0};
constexpr double kPitch = kSpacing.box_width + kSpacing.column_gap;

Inputs topology(const nn::Graph& g) {
  Inputs inputs;
  for (int i = 0; i < g.size(); ++i) inputs.push_back(g.node_inputs(i));
  return inputs;
}

TEST(GraphLayout, ChainIsOneColumnOneRowPerNode) {
  const GraphLayout g = lay_out_graph({{0}, {1}, {2}, {3}}, kSpacing);
  EXPECT_EQ(g.layer, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(g.layer_count, 5);
  for (double x : g.x) EXPECT_DOUBLE_EQ(x, 0.0);
  ASSERT_EQ(g.edges.size(), 4u);
  for (const LaidOutEdge& e : g.edges) {
    EXPECT_FALSE(e.skip);
    EXPECT_EQ(e.to, e.from + 1);
  }
  EXPECT_DOUBLE_EQ(g.min_x, -50.0);
  EXPECT_DOUBLE_EQ(g.max_x, 50.0);
}

TEST(GraphLayout, BranchesSitSideBySideAndTheirMergeBelowThem) {
  // stem(1); three branches reading it: 2, then 3 -> 4, then 5; a concat (6) of 2, 4 and 5.
  const GraphLayout g = lay_out_graph({{0}, {1}, {1}, {3}, {1}, {2, 4, 5}}, kSpacing);
  EXPECT_EQ(g.layer, (std::vector<int>{0, 1, 2, 2, 3, 2, 4}));
  // The three readers of the stem, in node order, one pitch apart, centred under it.
  EXPECT_DOUBLE_EQ(g.x[2], -kPitch);
  EXPECT_DOUBLE_EQ(g.x[3], 0.0);
  EXPECT_DOUBLE_EQ(g.x[5], kPitch);
  EXPECT_DOUBLE_EQ(g.x[4], g.x[3]);  // a branch stays in its column
  EXPECT_DOUBLE_EQ(g.x[6], 0.0);     // the merge under the mean of its inputs
  EXPECT_EQ(g.distinct_inputs[6], 3);
  ASSERT_EQ(g.edges.size(), 8u);
  int skips = 0;
  for (const LaidOutEdge& e : g.edges) {
    if (!e.skip) continue;
    ++skips;
    // 2 (left) and 5 (right) skip the row holding 4: each goes down on its own side.
    EXPECT_TRUE(e.from == 2 || e.from == 5) << e.from;
    if (e.from == 2) {
      EXPECT_LE(e.lane_x, g.x[4] - 50.0 - 8.0);
    } else {
      EXPECT_GE(e.lane_x, g.x[4] + 50.0 + 8.0);
    }
  }
  EXPECT_EQ(skips, 2);
}

TEST(GraphLayout, ResidualShortcutRunsBesideTheBlock) {
  // x(1) -> a(2) -> b(3) -> add(b, x)(4)
  const GraphLayout g = lay_out_graph({{0}, {1}, {2}, {3, 1}}, kSpacing);
  EXPECT_EQ(g.layer[4], 4);
  const auto shortcut = std::find_if(g.edges.begin(), g.edges.end(),
                                     [](const LaidOutEdge& e) { return e.from == 1 && e.to == 4; });
  ASSERT_NE(shortcut, g.edges.end());
  EXPECT_TRUE(shortcut->skip);
  EXPECT_EQ(shortcut->input_slot, 1);
  EXPECT_DOUBLE_EQ(shortcut->lane_x, 50.0 + 8.0);  // right of the column, clear of its boxes
  EXPECT_DOUBLE_EQ(g.max_x, 58.0);
}

TEST(GraphLayout, AValueReadTwiceByOneNodeIsOneEdge) {
  const GraphLayout g = lay_out_graph({{0}, {1, 1}}, kSpacing);
  EXPECT_EQ(g.edges.size(), 2u);
  EXPECT_EQ(g.distinct_inputs[2], 1);
}

TEST(GraphLayout, RefusesANodeReadingALaterValue) {
  EXPECT_THROW(lay_out_graph({{0}, {3}, {1}}, kSpacing), Error);
  EXPECT_THROW(lay_out_graph({{0}, {}}, kSpacing), Error);
}

// What the drawing relies on, checked on every model kestrel builds (CIFAR-10 or MNIST sized,
// ImageNet for the Inception and dense blocks at full size where they differ).
void expect_readable(const std::string& model, const models::ModelInput& in) {
  SCOPED_TRACE(model);
  const auto graph = models::build_model(model, in);
  const GraphLayout g = lay_out_graph(topology(*graph), kSpacing);
  const double half = kSpacing.box_width / 2.0;
  std::vector<std::vector<int>> rows(static_cast<size_t>(g.layer_count));
  for (size_t v = 0; v < g.layer.size(); ++v) rows[static_cast<size_t>(g.layer[v])].push_back(v);
  for (const std::vector<int>& row : rows) {
    std::vector<double> xs;
    for (int v : row) xs.push_back(g.x[static_cast<size_t>(v)]);
    std::sort(xs.begin(), xs.end());
    for (size_t k = 1; k < xs.size(); ++k) EXPECT_GE(xs[k] - xs[k - 1], kPitch - 1e-6);
  }
  size_t pairs = 0;
  for (int i = 0; i < graph->size(); ++i) {
    std::vector<int> seen = graph->node_inputs(i);
    std::sort(seen.begin(), seen.end());
    pairs += static_cast<size_t>(std::unique(seen.begin(), seen.end()) - seen.begin());
  }
  EXPECT_EQ(g.edges.size(), pairs);
  for (const LaidOutEdge& e : g.edges) {
    const int a = g.layer[static_cast<size_t>(e.from)], b = g.layer[static_cast<size_t>(e.to)];
    ASSERT_LT(a, b) << e.from << " -> " << e.to;
    EXPECT_EQ(e.skip, b - a > 1);
    if (!e.skip) continue;
    for (int l = a + 1; l < b; ++l)
      for (int v : rows[static_cast<size_t>(l)])
        ASSERT_GE(std::abs(e.lane_x - g.x[static_cast<size_t>(v)]), half + kSpacing.lane_gap - 1e-6)
            << e.from << " -> " << e.to << " crosses value " << v;
    for (const LaidOutEdge& o : g.edges) {
      if (!o.skip || o.from == e.from) continue;
      const int oa = g.layer[static_cast<size_t>(o.from)], ob = g.layer[static_cast<size_t>(o.to)];
      if (a < ob && oa < b) {
        ASSERT_GE(std::abs(e.lane_x - o.lane_x), kSpacing.lane_gap - 1e-6)
            << e.from << " -> " << e.to << " runs on " << o.from << " -> " << o.to;
      }
    }
  }
  EXPECT_LE(g.min_x, -half);
  EXPECT_GE(g.max_x, half);
}

TEST(GraphLayout, EveryModelIsReadable) {
  for (const std::string& model : models::model_names())
    expect_readable(model, models::dataset_input(models::default_dataset(model)));
  expect_readable("googlenet", models::dataset_input("imagenet"));
  expect_readable("densenet121", models::dataset_input("imagenet"));
}

}  // namespace
}  // namespace kestrel::report
