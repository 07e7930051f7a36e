#include "engine/report/graph_svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "engine/report/graph_layout.hpp"
#include "engine/report/html.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace {

constexpr double kMargin = 20.0;
constexpr double kHeader = 56.0;  // title and legend
constexpr double kBoxHeight = 38.0;
constexpr double kRowGap = 30.0;  // between two rows of boxes: where edges bend
constexpr double kRowPitch = kBoxHeight + kRowGap;
// Average advance of the label's and the shape's characters (12 px sans, 11 px monospace),
// generous so that the text fits its box in common fonts.
constexpr double kLabelCharWidth = 7.0;
constexpr double kShapeCharWidth = 6.8;

// XML 1.0 cannot hold control characters other than tab and line breaks, not even as
// references; they are dropped, and the rest is escaped as for HTML.
std::string escape_xml(std::string_view text) {
  std::string kept;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 || c == '\t' || c == '\n' || c == '\r') kept += c;
  }
  return escape_html(kept);
}

// "[64, 32, 32]": the shape of one sample (the batch dimension dropped).
std::string sample_shape(const Shape& with_batch) {
  return Shape::from(with_batch.data() + 1, with_batch.ndim() - 1).str();
}

struct Box {
  std::string label, shape, tooltip;
  bool has_params = false;
};

std::vector<Box> boxes_of(const nn::Graph& graph) {
  std::vector<Box> boxes;
  const std::string input_shape = graph.input_shape().str();  // already one sample's [C, H, W]
  boxes.push_back({"input", input_shape, fmt::format("input: {}", input_shape), false});
  for (int i = 0; i < graph.size(); ++i) {
    const nn::Layer& layer = graph.layer(i);
    Box b;
    b.label = layer.label();
    b.shape = sample_shape(graph.output_shape(i));
    b.tooltip = fmt::format("{} ({}): {}", layer.name(), layer.type(), b.shape);
    b.has_params = !layer.params().empty();
    boxes.push_back(std::move(b));
  }
  return boxes;
}

double box_width_for(const std::vector<Box>& boxes) {
  double widest = 0.0;
  for (const Box& b : boxes) {
    widest = std::max(widest, static_cast<double>(b.label.size()) * kLabelCharWidth);
    widest = std::max(widest, static_cast<double>(b.shape.size()) * kShapeCharWidth);
  }
  return std::clamp(widest + 20.0, 120.0, 320.0);
}

// Where the edge from input slot `slot` of `inputs` enters its box's top: spread across it in
// the node's input order, so that a concatenation's inputs arrive side by side.
double entry_offset(int slot, int inputs, double box_width) {
  if (inputs <= 1) return 0.0;
  const double step = std::min(14.0, (box_width - 24.0) / (inputs - 1));
  return (slot - (inputs - 1) / 2.0) * step;
}

std::string edge_path(const LaidOutEdge& e, const GraphLayout& g, double x0, double box_width) {
  const auto top = [&](int value) {
    return kMargin + kHeader + g.layer[static_cast<size_t>(value)] * kRowPitch;
  };
  const double sx = x0 + g.x[static_cast<size_t>(e.from)];
  const double sy = top(e.from) + kBoxHeight;
  const double tx =
      x0 + g.x[static_cast<size_t>(e.to)] +
      entry_offset(e.input_slot, g.distinct_inputs[static_cast<size_t>(e.to)], box_width);
  const double ty = top(e.to);
  if (!e.skip) {
    const double mid = sy + kRowGap / 2.0;
    return fmt::format("M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}", sx, sy, sx, mid,
                       tx, mid, tx, ty);
  }
  // Out of the source's bottom into the lane within the gap below it, down the lane, and into
  // the target's top within the gap above it: each bend's control points stay inside its gap,
  // so no curve crosses a box.
  const double lx = x0 + e.lane_x;
  return fmt::format(
      "M{:.1f},{:.1f} C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f} L{:.1f},{:.1f} "
      "C{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}",
      sx, sy, sx, sy + kRowGap * 0.6, lx, sy + kRowGap * 0.2, lx, sy + kRowGap * 0.8,  //
      lx, ty - kRowGap * 0.8,                                                          //
      lx, ty - kRowGap * 0.2, tx, ty - kRowGap * 0.6, tx, ty);
}

constexpr std::string_view kStyle =
    "text{font-family:\"DejaVu Sans\",Arial,sans-serif;font-size:12px;fill:#1a1a1a}"
    ".title{font-size:15px;font-weight:bold}.legend{font-size:11px;fill:#444}"
    ".shape{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,monospace;font-size:11px;fill:#444}"
    "rect{stroke:#6b6b6b;stroke-width:1;fill:#ffffff}"
    ".params rect{fill:#dbe9f6;stroke:#3b6e9e}.join rect{fill:#fde0c5;stroke:#c0661c}"
    ".input rect{fill:#eeeeee;stroke-dasharray:4 3}"
    ".edge{fill:none;stroke:#707070;stroke-width:1.2}.skip{stroke:#c0392b}";

}  // namespace

std::string render_graph_svg(const nn::Graph& graph, std::string_view title) {
  KESTREL_CHECK(graph.planned(), "graph drawing: plan the graph first (its shapes are drawn)");
  std::vector<std::vector<int>> inputs;
  for (int i = 0; i < graph.size(); ++i) inputs.push_back(graph.node_inputs(i));
  const std::vector<Box> boxes = boxes_of(graph);
  LayoutSpacing spacing;
  spacing.box_width = box_width_for(boxes);
  const GraphLayout g = lay_out_graph(inputs, spacing);

  // Wide enough for the header; a narrower graph is centred.
  const double natural_width = g.max_x - g.min_x + 2 * kMargin;
  const double width = std::max(natural_width, 460.0);
  const double x0 = kMargin - g.min_x + (width - natural_width) / 2.0;  // where layout x = 0 is
  const double height = kMargin * 2 + kHeader + g.layer_count * kRowPitch - kRowGap;

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\">\n",
      width, height, width, height);
  out += fmt::format("<style>{}</style>\n", kStyle);
  out +=
      "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" "
      "markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" fill=\"#707070\"/>"
      "</marker><marker id=\"arrow-skip\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" "
      "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" "
      "fill=\"#c0392b\"/></marker></defs>\n";
  out += fmt::format("<text class=\"title\" x=\"{:.0f}\" y=\"{:.0f}\">{}</text>\n", kMargin,
                     kMargin + 14, escape_xml(title));
  out += fmt::format(
      "<text class=\"legend\" x=\"{:.0f}\" y=\"{:.0f}\">{} layers; blue: has parameters, orange: "
      "joins branches, red: skips rows</text>\n",
      kMargin, kMargin + 34, graph.size());

  // Edges first, so that the boxes are drawn over their ends.
  for (const LaidOutEdge& e : g.edges) {
    out += fmt::format(
        "<path class=\"edge{}\" data-from=\"{}\" data-to=\"{}\" d=\"{}\" "
        "marker-end=\"url(#{})\"/>\n",
        e.skip ? " skip" : "", e.from, e.to, edge_path(e, g, x0, spacing.box_width),
        e.skip ? "arrow-skip" : "arrow");
  }
  for (size_t v = 0; v < boxes.size(); ++v) {
    const Box& b = boxes[v];
    std::string cls = v == 0 ? "input" : "node";
    if (b.has_params) cls += " params";
    if (g.distinct_inputs[v] > 1) cls += " join";
    const double left = x0 + g.x[v] - spacing.box_width / 2.0;
    const double top = kMargin + kHeader + g.layer[v] * kRowPitch;
    out += fmt::format(
        "<g class=\"{}\" data-value=\"{}\" data-layer=\"{}\"><title>{}</title>"
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.0f}\" rx=\"5\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>"
        "<text class=\"shape\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text></g>\n",
        cls, v, g.layer[v], escape_xml(b.tooltip), left, top, spacing.box_width, kBoxHeight,
        x0 + g.x[v], top + 16, escape_xml(b.label), x0 + g.x[v], top + 31, escape_xml(b.shape));
  }
  out += "</svg>\n";
  return out;
}

}  // namespace kestrel::report
