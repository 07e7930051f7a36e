#pragma once
// A model's graph drawn as a standalone SVG document (kestrel summary --svg): one box per node
// with the layer's label (Layer::label: "Conv2d 3x3/1 64") and its output shape without the
// batch ("[64, 32, 32]"), a box for the input, and an arrow from each value to every node that
// reads it, laid out by graph_layout.hpp (top to bottom, one row per layer of the longest path
// from the input). Layers with parameters are blue, nodes that join branches (Add, Concat,
// ScaleChannels: more than one value read) orange; edges that skip rows (residual shortcuts,
// dense connections, short Inception branches) are drawn in red beside the boxes. Each box's
// tooltip (<title>) names the layer and its type.
//
// For tools and tests, boxes are <g class="node" data-value="k" data-layer="l"> (the input
// <g class="input" data-value="0">), edges <path class="edge" data-from="u" data-to="v">
// (class "edge skip" for a skip), and every value's box is a <rect> at its row.
#include <string>
#include <string_view>

#include "engine/nn/graph.hpp"

namespace kestrel::report {

// The SVG of a planned graph (its shapes are known), headed by `title`. Throws kestrel::Error
// when the graph is not planned.
std::string render_graph_svg(const nn::Graph& graph, std::string_view title);

}  // namespace kestrel::report
