// The graph's SVG (kestrel summary --svg) on a small net with a residual add and an
// Inception-style concatenation: well-formed XML, one box per node and one for the input, one
// edge per (value, reader) pair from the source's box down to the reader's, every output shape
// and label in its own box, skips and joins marked, text escaped; and the XML checker the test
// relies on refuses what is not XML.
#include "engine/report/graph_svg.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/nn/activation.hpp"
#include "engine/nn/flatten.hpp"
#include "engine/nn/linear.hpp"
#include "kernels/common/error.hpp"
#include "models/datasets.hpp"
#include "models/registry.hpp"
#include "tests/support/branching_net.hpp"
#include "tests/support/xml.hpp"

namespace kestrel::report {
namespace {

using test::parse_xml;
using test::XmlElement;

bool has_class(const XmlElement& e, const std::string& cls) {
  const auto it = e.attributes.find("class");
  if (it == e.attributes.end()) return false;
  const std::string padded = " " + it->second + " ";
  return padded.find(" " + cls + " ") != std::string::npos;
}

double number(const XmlElement& e, const std::string& attribute) {
  return std::stod(e.attributes.at(attribute));
}

// The drawing's boxes by value: the box's <g>, its <rect>, and its texts.
struct DrawnBox {
  const XmlElement* group = nullptr;
  const XmlElement* rect = nullptr;
  std::string title;
  std::vector<std::string> texts;
};

struct Drawing {
  std::vector<XmlElement> elements;
  std::map<int, DrawnBox> boxes;  // value -> box
  std::vector<const XmlElement*> edges;
  int node_boxes = 0;
};

Drawing parse_drawing(const std::string& svg) {
  Drawing d;
  d.elements = parse_xml(svg);
  EXPECT_EQ(d.elements.front().name, "svg");
  std::map<int, int> box_of_element;  // element index of a box's <g> -> value
  for (size_t i = 0; i < d.elements.size(); ++i) {
    const XmlElement& e = d.elements[i];
    if (e.name == "g" && (has_class(e, "node") || has_class(e, "input"))) {
      const int value = std::stoi(e.attributes.at("data-value"));
      EXPECT_EQ(d.boxes.count(value), 0u) << "two boxes for value " << value;
      d.boxes[value].group = &e;
      box_of_element[static_cast<int>(i)] = value;
      if (has_class(e, "node")) ++d.node_boxes;
    } else if (e.name == "path" && has_class(e, "edge")) {
      d.edges.push_back(&e);
    } else if (box_of_element.count(e.parent) != 0) {
      DrawnBox& box = d.boxes[box_of_element[e.parent]];
      if (e.name == "rect") box.rect = &e;
      if (e.name == "title") box.title = e.text;
      if (e.name == "text") box.texts.push_back(e.text);
    }
  }
  return d;
}

// The first and last y of a path's "d" ("M x,y ... x,y").
std::pair<double, double> path_ends_y(const std::string& d) {
  double x0 = 0, y0 = 0;
  EXPECT_EQ(std::sscanf(d.c_str(), "M%lf,%lf", &x0, &y0), 2) << d;
  const size_t comma = d.rfind(',');
  return {y0, std::stod(d.substr(comma + 1))};
}

std::unique_ptr<nn::Graph> planned_branching_net() {
  auto g = test::branching_net(3, 5);
  g->plan(Shape{3, 8, 8}, 2, 5);
  return g;
}

TEST(GraphSvg, OneBoxPerNodeOneEdgePerReadEveryShapeAndEdgesGoDown) {
  const auto graph = planned_branching_net();
  const Drawing d = parse_drawing(render_graph_svg(*graph, "branching net on 3x8x8"));

  EXPECT_EQ(d.node_boxes, graph->size());
  ASSERT_EQ(d.boxes.size(), static_cast<size_t>(graph->size()) + 1);  // and the input's
  EXPECT_TRUE(has_class(*d.boxes.at(0).group, "input"));

  std::set<std::pair<int, int>> reads;  // (value, reader's value)
  for (int i = 0; i < graph->size(); ++i)
    for (int v : graph->node_inputs(i)) reads.emplace(v, i + 1);
  std::set<std::pair<int, int>> drawn;
  for (const XmlElement* e : d.edges) {
    const int from = std::stoi(e->attributes.at("data-from"));
    const int to = std::stoi(e->attributes.at("data-to"));
    EXPECT_TRUE(drawn.emplace(from, to).second) << "edge " << from << " -> " << to << " twice";
    const DrawnBox& source = d.boxes.at(from);
    const DrawnBox& target = d.boxes.at(to);
    ASSERT_NE(source.rect, nullptr);
    ASSERT_NE(target.rect, nullptr);
    // Downward: the reader's row is below the source's, and the path runs from the source's
    // bottom edge to the reader's top edge.
    EXPECT_LT(std::stoi(source.group->attributes.at("data-layer")),
              std::stoi(target.group->attributes.at("data-layer")));
    const auto [y_start, y_end] = path_ends_y(e->attributes.at("d"));
    EXPECT_DOUBLE_EQ(y_start, number(*source.rect, "y") + number(*source.rect, "height"));
    EXPECT_DOUBLE_EQ(y_end, number(*target.rect, "y"));
    EXPECT_LT(y_start, y_end);
  }
  EXPECT_EQ(drawn, reads);

  for (int i = 0; i < graph->size(); ++i) {
    const DrawnBox& box = d.boxes.at(i + 1);
    const Shape& out = graph->output_shape(i);
    const std::string shape = Shape::from(out.data() + 1, out.ndim() - 1).str();
    ASSERT_EQ(box.texts.size(), 2u) << i;
    EXPECT_EQ(box.texts[0], graph->layer(i).label());
    EXPECT_EQ(box.texts[1], shape);
    EXPECT_NE(box.title.find(graph->layer(i).name()), std::string::npos) << box.title;
  }
  EXPECT_EQ(d.boxes.at(0).texts.at(1), "[3, 8, 8]");
}

TEST(GraphSvg, LabelsJoinsAndSkipsAreMarked) {
  const auto graph = planned_branching_net();
  const Drawing d = parse_drawing(render_graph_svg(*graph, "t"));
  std::map<std::string, const DrawnBox*> by_name;
  for (int i = 0; i < graph->size(); ++i) by_name[graph->layer(i).name()] = &d.boxes.at(i + 1);
  EXPECT_EQ(by_name.at("stem")->texts[0], "Conv2d 3x3/1 8");
  EXPECT_EQ(by_name.at("inception.branch3.0")->texts[0], "MaxPool2d 3x3/1");
  EXPECT_EQ(by_name.at("avgpool")->texts[0], "AdaptiveAvgPool2d 2x2");
  EXPECT_EQ(by_name.at("fc")->texts[0], "Linear 5");
  EXPECT_EQ(by_name.at("block.add")->texts[0], "Add");
  EXPECT_TRUE(has_class(*by_name.at("stem")->group, "params"));
  EXPECT_FALSE(has_class(*by_name.at("stem_relu")->group, "params"));
  EXPECT_TRUE(has_class(*by_name.at("block.add")->group, "join"));
  EXPECT_TRUE(has_class(*by_name.at("inception.cat")->group, "join"));
  EXPECT_FALSE(has_class(*by_name.at("inception.relu")->group, "join"));
  // The residual shortcut (stem_relu -> block.add) and the 1x1 branches that skip the pooled
  // branch's second row are skips; nothing else is.
  std::set<std::string> skips;
  for (const XmlElement* e : d.edges) {
    if (!has_class(*e, "skip")) continue;
    const int from = std::stoi(e->attributes.at("data-from"));
    const int to = std::stoi(e->attributes.at("data-to"));
    skips.insert(graph->layer(from - 1).name() + " -> " + graph->layer(to - 1).name());
  }
  EXPECT_EQ(skips,
            (std::set<std::string>{"stem_relu -> block.add", "inception.branch1 -> inception.cat",
                                   "inception.branch2 -> inception.cat"}));
}

TEST(GraphSvg, EscapesTextForXml) {
  nn::Graph g;
  g.add<nn::Flatten>("flat<&>\"'\x01");
  g.add<nn::Linear>("fc", 4, 2);
  g.plan(Shape{1, 2, 2}, 1, 2);
  const std::string svg = render_graph_svg(g, "a <title> & \"quotes\"");
  const Drawing d = parse_drawing(svg);
  EXPECT_EQ(d.boxes.at(1).title, "flat<&>\"' (Flatten): [4]");  // the control character dropped
  bool title_found = false;
  for (const XmlElement& e : d.elements)
    title_found = title_found || e.text == "a <title> & \"quotes\"";
  EXPECT_TRUE(title_found);
}

TEST(GraphSvg, RefusesAnUnplannedGraph) {
  const auto graph = test::branching_net(3, 5);
  EXPECT_THROW(render_graph_svg(*graph, "t"), Error);
}

TEST(GraphSvg, DrawsDeepModelsWithABoxPerNode) {
  for (const std::string model : {"resnet20", "googlenet", "densenet121"}) {
    const models::ModelInput in = models::dataset_input("cifar10");
    auto graph = models::build_model(model, in);
    graph->plan(in.shape(), 1, in.classes);
    const Drawing d = parse_drawing(render_graph_svg(*graph, model));
    EXPECT_EQ(d.node_boxes, graph->size()) << model;
  }
}

TEST(XmlCheck, RefusesWhatIsNotXml) {
  EXPECT_NO_THROW(parse_xml("<?xml version=\"1.0\"?>\n<a x='1'><b/>t &amp; &#39;</a>\n"));
  for (const char* bad : {"<a><b></a>", "<a x=1/>", "<a>&bogus;</a>", "<a>&</a>", "<a></a><b/>",
                          "<a x=\"1\" x=\"2\"/>", "<a>", "text", "<a x=\"<\"/>"})
    EXPECT_THROW(parse_xml(bad), std::runtime_error) << bad;
}

}  // namespace
}  // namespace kestrel::report
