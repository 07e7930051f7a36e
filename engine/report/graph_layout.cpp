#include "engine/report/graph_layout.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace {

// The values node `node` reads, each once, in its input order.
std::vector<int> distinct_values(const std::vector<int>& inputs) {
  std::vector<int> out;
  for (int v : inputs)
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  return out;
}

// Places one layer's values: each at the mean x of what it reads, then pushed apart to
// `pitch` in order of that wish, the layer's mean kept where the wishes put it.
void place_layer(const std::vector<int>& values, const std::vector<std::vector<int>>& reads,
                 double pitch, std::vector<double>& x) {
  std::vector<double> wish(values.size());
  for (size_t j = 0; j < values.size(); ++j) {
    const std::vector<int>& parents = reads[static_cast<size_t>(values[j])];
    double sum = 0.0;
    for (int p : parents) sum += x[static_cast<size_t>(p)];
    wish[j] = parents.empty() ? 0.0 : sum / static_cast<double>(parents.size());
  }
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return wish[a] < wish[b]; });
  std::vector<double> placed(values.size());
  for (size_t k = 0; k < order.size(); ++k)
    placed[k] = k == 0 ? wish[order[0]] : std::max(wish[order[k]], placed[k - 1] + pitch);
  const double shift = (std::accumulate(wish.begin(), wish.end(), 0.0) -
                        std::accumulate(placed.begin(), placed.end(), 0.0)) /
                       static_cast<double>(values.size());
  for (size_t k = 0; k < order.size(); ++k)
    x[static_cast<size_t>(values[order[k]])] = placed[k] + shift;
}

// The lane of a skip from layer a to layer b: beside the boxes of the layers between, on the
// side of its source, and clear of the lanes of other values' skips whose runs it meets
// (touching ends count: two lanes meeting at one point would read as one line).
double skip_lane(const LaidOutEdge& e, const GraphLayout& g, const std::vector<LaidOutEdge>& placed,
                 const std::vector<std::vector<int>>& by_layer, const LayoutSpacing& s) {
  const int a = g.layer[static_cast<size_t>(e.from)], b = g.layer[static_cast<size_t>(e.to)];
  const double source_x = g.x[static_cast<size_t>(e.from)];
  const bool left = source_x < g.x[static_cast<size_t>(e.to)] - 1e-9;
  const double half = s.box_width / 2.0;
  double lane = source_x;
  for (int l = a + 1; l < b; ++l) {
    for (int v : by_layer[static_cast<size_t>(l)]) {
      const double vx = g.x[static_cast<size_t>(v)];
      lane = left ? std::min(lane, vx - half - s.lane_gap) : std::max(lane, vx + half + s.lane_gap);
    }
  }
  for (bool moved = true; moved;) {
    moved = false;
    for (const LaidOutEdge& other : placed) {
      if (other.from == e.from) continue;
      const int oa = g.layer[static_cast<size_t>(other.from)];
      const int ob = g.layer[static_cast<size_t>(other.to)];
      const bool runs_meet = a < ob && oa < b;
      if (runs_meet && std::abs(other.lane_x - lane) < s.lane_gap - 1e-9) {
        lane = left ? other.lane_x - s.lane_gap : other.lane_x + s.lane_gap;
        moved = true;
      }
    }
  }
  return lane;
}

}  // namespace

GraphLayout lay_out_graph(const std::vector<std::vector<int>>& inputs,
                          const LayoutSpacing& spacing) {
  const size_t values = inputs.size() + 1;
  GraphLayout g;
  g.layer.assign(values, 0);
  g.x.assign(values, 0.0);
  g.distinct_inputs.assign(values, 0);
  std::vector<std::vector<int>> reads(values);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int value = static_cast<int>(i) + 1;
    KESTREL_CHECK(!inputs[i].empty(), "graph layout: node {} reads no value", i);
    reads[static_cast<size_t>(value)] = distinct_values(inputs[i]);
    int deepest = 0;
    for (int v : reads[static_cast<size_t>(value)]) {
      KESTREL_CHECK(v >= 0 && v < value, "graph layout: node {} reads value {}, not before it", i,
                    v);
      deepest = std::max(deepest, g.layer[static_cast<size_t>(v)]);
    }
    g.layer[static_cast<size_t>(value)] = deepest + 1;
    g.distinct_inputs[static_cast<size_t>(value)] =
        static_cast<int>(reads[static_cast<size_t>(value)].size());
  }
  g.layer_count = *std::max_element(g.layer.begin(), g.layer.end()) + 1;

  std::vector<std::vector<int>> by_layer(static_cast<size_t>(g.layer_count));
  for (size_t v = 0; v < values; ++v)
    by_layer[static_cast<size_t>(g.layer[v])].push_back(static_cast<int>(v));
  for (const std::vector<int>& layer : by_layer)
    place_layer(layer, reads, spacing.box_width + spacing.column_gap, g.x);

  for (size_t v = 1; v < values; ++v) {
    const std::vector<int>& parents = reads[v];
    for (size_t slot = 0; slot < parents.size(); ++slot) {
      LaidOutEdge e;
      e.from = parents[slot];
      e.to = static_cast<int>(v);
      e.input_slot = static_cast<int>(slot);
      e.skip = g.layer[v] - g.layer[static_cast<size_t>(e.from)] > 1;
      g.edges.push_back(e);
    }
  }
  // Short skips first, so that they take the lanes nearest the boxes and longer ones go round.
  std::vector<size_t> skips;
  for (size_t k = 0; k < g.edges.size(); ++k)
    if (g.edges[k].skip) skips.push_back(k);
  const auto span = [&](size_t k) {
    return g.layer[static_cast<size_t>(g.edges[k].to)] -
           g.layer[static_cast<size_t>(g.edges[k].from)];
  };
  std::stable_sort(skips.begin(), skips.end(),
                   [&](size_t a, size_t b) { return span(a) < span(b); });
  std::vector<LaidOutEdge> placed;
  for (size_t k : skips) {
    g.edges[k].lane_x = skip_lane(g.edges[k], g, placed, by_layer, spacing);
    placed.push_back(g.edges[k]);
  }

  g.min_x = std::numeric_limits<double>::max();
  g.max_x = std::numeric_limits<double>::lowest();
  for (double x : g.x) {
    g.min_x = std::min(g.min_x, x - spacing.box_width / 2.0);
    g.max_x = std::max(g.max_x, x + spacing.box_width / 2.0);
  }
  for (const LaidOutEdge& e : g.edges) {
    if (!e.skip) continue;
    g.min_x = std::min(g.min_x, e.lane_x);
    g.max_x = std::max(g.max_x, e.lane_x);
  }
  return g;
}

}  // namespace kestrel::report
