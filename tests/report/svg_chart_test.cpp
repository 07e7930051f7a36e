// SVG line charts: tick values at nice numbers, axis ranges (a single point and a flat series
// included), tick labels, and the SVG itself (points, tooltips, legend, escaping).
#include "engine/report/svg_chart.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "engine/report/html.hpp"
#include "tests/support/text.hpp"

namespace kestrel::report {
namespace {

using test::count_occurrences;

std::vector<double> values(std::initializer_list<double> v) { return v; }

void expect_ticks(const Ticks& t, const std::vector<double>& expected, double step) {
  ASSERT_EQ(t.values.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(t.values[i], expected[i], 1e-12) << i;
  EXPECT_NEAR(t.step, step, 1e-15);
  EXPECT_NEAR(t.lo, expected.front(), 1e-12);
  EXPECT_NEAR(t.hi, expected.back(), 1e-12);
}

TEST(ReportChart, NiceNumbers) {
  EXPECT_DOUBLE_EQ(nice_number(0.87, false), 1.0);
  EXPECT_DOUBLE_EQ(nice_number(1.0, false), 1.0);
  EXPECT_DOUBLE_EQ(nice_number(1.2, false), 2.0);
  EXPECT_DOUBLE_EQ(nice_number(3.1, false), 5.0);
  EXPECT_DOUBLE_EQ(nice_number(5.1, false), 10.0);
  EXPECT_DOUBLE_EQ(nice_number(0.013, true), 0.01);
  EXPECT_DOUBLE_EQ(nice_number(0.019, true), 0.02);
  EXPECT_DOUBLE_EQ(nice_number(0.27, true), 0.25);
  EXPECT_DOUBLE_EQ(nice_number(4.0, true), 5.0);
  EXPECT_DOUBLE_EQ(nice_number(8.0, true), 10.0);
  EXPECT_DOUBLE_EQ(nice_number(3200.0, true), 2500.0);
}

TEST(ReportChart, TicksCoverTheDataAtNiceSteps) {
  // Accuracy in percent from 91.3 to 99.1: steps of 2, from 90 to 100.
  expect_ticks(nice_ticks(91.3, 99.1, 6), {90, 92, 94, 96, 98, 100}, 2.0);
  // A loss from 0.031 to 0.42.
  expect_ticks(nice_ticks(0.031, 0.42, 6), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}, 0.1);
  // Reversed arguments mean the same range.
  expect_ticks(nice_ticks(0.42, 0.031, 6), {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}, 0.1);
  // Negative values.
  expect_ticks(nice_ticks(-3.2, 1.1, 5), {-4, -3, -2, -1, 0, 1, 2}, 1.0);
  // Throughput from zero.
  expect_ticks(nice_ticks(11800, 12400, 6, false, true), {0, 2500, 5000, 7500, 10000, 12500}, 2500);
}

TEST(ReportChart, EpochAxisUsesWholeSteps) {
  expect_ticks(nice_ticks(1, 3, 7, true), {1, 2, 3}, 1.0);
  expect_ticks(nice_ticks(1, 30, 7, true), {0, 5, 10, 15, 20, 25, 30}, 5.0);
}

TEST(ReportChart, SinglePointAndFlatSeriesGetARange) {
  // One epoch: one epoch either side.
  expect_ticks(nice_ticks(1, 1, 7, true), {0, 1, 2}, 1.0);
  // A flat series at 0.25: a span of +-10% around it, with 0.25 inside.
  const Ticks flat = nice_ticks(0.25, 0.25, 6);
  EXPECT_LT(flat.lo, 0.25);
  EXPECT_GT(flat.hi, 0.25);
  EXPECT_LE(flat.lo, 0.225);
  EXPECT_GE(flat.hi, 0.275);
  EXPECT_GE(flat.values.size(), 3u);
  EXPECT_LE(flat.values.size(), 8u);
  // Zero: [0, 1].
  expect_ticks(nice_ticks(0, 0, 6), {0, 0.2, 0.4, 0.6, 0.8, 1.0}, 0.2);
  // A flat learning rate with include_zero: from 0 up past it.
  const Ticks lr = nice_ticks(3e-3, 3e-3, 6, false, true);
  EXPECT_EQ(lr.lo, 0.0);
  EXPECT_GE(lr.hi, 3e-3);
  EXPECT_LE(lr.hi, 4e-3);
}

TEST(ReportChart, TickLabels) {
  EXPECT_EQ(format_tick(0.0, 0.1), "0");
  EXPECT_EQ(format_tick(0.2, 0.1), "0.2");
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(97.5, 2.5), "97.5");
  EXPECT_EQ(format_tick(98.0, 2.0), "98");
  EXPECT_EQ(format_tick(12500, 2500), "12,500");
  EXPECT_EQ(format_tick(5000, 2500), "5,000");
  EXPECT_EQ(format_tick(500, 250), "500");
  EXPECT_EQ(format_tick(3e-4, 1e-4), "0.0003");
  EXPECT_EQ(format_tick(1.2e-4, 2e-5), "1.2e-4");
  EXPECT_EQ(format_tick(2.5e-5, 2.5e-5), "2.5e-5");
  EXPECT_EQ(format_tick(0.003, 0.0005), "0.0030");
  EXPECT_EQ(format_tick(-1.0, 1.0), "-1");
}

LineChart two_series_chart() {
  LineChart c;
  c.id = "chart-test";
  c.title = "Loss";
  c.x = {"epoch", true, false, ""};
  c.y = {"loss", false, false, ""};
  c.series = {{"train", values({1, 2, 3}), values({0.9, 0.5, 0.25}), "#0072b2", "6 4"},
              {"test", values({1, 2, 3}), values({0.8, 0.45, 0.3}), "#d55e00", ""}};
  return c;
}

TEST(ReportChart, DrawsEveryPointWithItsValue) {
  const std::string svg = render_line_chart(two_series_chart());
  EXPECT_NE(svg.find("<svg id=\"chart-test\""), std::string::npos);
  EXPECT_EQ(count_occurrences(svg, "<polyline"), 2u);
  // Three points per polyline.
  const std::regex points("points=\"([^\"]*)\"");
  size_t lines = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), points); it != std::sregex_iterator();
       ++it, ++lines) {
    const std::string p = (*it)[1];
    EXPECT_EQ(count_occurrences(p, ","), 3u) << p;
  }
  EXPECT_EQ(lines, 2u);
  // Every value in a tooltip.
  for (const char* tip : {"train: epoch 1, 0.9<", "train: epoch 2, 0.5<", "train: epoch 3, 0.25<",
                          "test: epoch 1, 0.8<", "test: epoch 2, 0.45<", "test: epoch 3, 0.3<"})
    EXPECT_NE(svg.find(tip), std::string::npos) << tip;
  // Axis labels, title, dashes, legend entries.
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">Loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray=\"6 4\""), std::string::npos);
  EXPECT_NE(svg.find(">train</text>"), std::string::npos);
  EXPECT_NE(svg.find(">test</text>"), std::string::npos);
  EXPECT_EQ(svg.find("no data"), std::string::npos);
}

TEST(ReportChart, HigherValuesSitHigher) {
  // SVG's y grows downwards: the first train point (0.9) must have the smallest y.
  const std::string svg = render_line_chart(two_series_chart());
  const std::regex circle("<circle cx=\"([0-9.]+)\" cy=\"([0-9.]+)\" r=\"3\"><title>train");
  std::vector<double> ys, xs;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), circle); it != std::sregex_iterator();
       ++it) {
    xs.push_back(std::stod((*it)[1]));
    ys.push_back(std::stod((*it)[2]));
  }
  ASSERT_EQ(ys.size(), 3u);
  EXPECT_LT(ys[0], ys[1]);
  EXPECT_LT(ys[1], ys[2]);
  EXPECT_LT(xs[0], xs[1]);
  EXPECT_LT(xs[1], xs[2]);
}

TEST(ReportChart, EscapesNames) {
  LineChart c = two_series_chart();
  c.title = "Loss <b>&</b>";
  c.series[0].name = "T-shirt/top";
  c.series[1].name = "<script>alert('x')</script>";
  const std::string svg = render_line_chart(c);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;b&gt;&amp;&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(svg.find(">T-shirt/top</text>"), std::string::npos);
}

TEST(ReportChart, SinglePointAndEmptyChartsDraw) {
  LineChart c = two_series_chart();
  c.series = {{"only", values({1}), values({0.5}), "#0072b2", ""}};
  const std::string one = render_line_chart(c);
  EXPECT_NE(one.find("only: epoch 1, 0.5<"), std::string::npos);
  EXPECT_EQ(one.find("nan"), std::string::npos);
  c.series = {{"nothing", {}, {}, "#0072b2", ""}};
  const std::string none = render_line_chart(c);
  EXPECT_NE(none.find("no data recorded"), std::string::npos);
  EXPECT_EQ(none.find("<polyline"), std::string::npos);
  EXPECT_NE(none.find(">nothing</text>"), std::string::npos);
}

TEST(ReportChart, NonFiniteValuesAreSkipped) {
  LineChart c = two_series_chart();
  c.series[0].y[1] = std::nan("");
  const std::string svg = render_line_chart(c);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("train: epoch 2"), std::string::npos);
  EXPECT_NE(svg.find("train: epoch 3, 0.25<"), std::string::npos);
}

TEST(ReportChart, LongLegendsWrapIntoRows) {
  LineChart c = two_series_chart();
  const std::string short_legend = render_line_chart(c);
  for (int i = 0; i < 6; ++i)
    c.series.push_back({"lenet5-classic-mnist-20250101-120000 \u00b7 test top-" + std::to_string(i),
                        values({1, 2}), values({0.1, 0.2}), series_colour(static_cast<size_t>(i)),
                        ""});
  const std::string long_legend = render_line_chart(c);
  const std::regex height("viewBox=\"0 0 ([0-9]+) ([0-9]+)\"");
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(short_legend, a, height));
  ASSERT_TRUE(std::regex_search(long_legend, b, height));
  EXPECT_EQ(a[1], b[1]);                                 // same width
  EXPECT_GE(std::stoi(b[2]) - std::stoi(a[2]), 3 * 20);  // at least three more legend rows
}

TEST(ReportChart, LegendKeysReplaceSeriesNames) {
  LineChart c = two_series_chart();
  c.series[0].name = "run-a \u00b7 train";
  c.series[1].name = "run-a \u00b7 test";
  c.series[1].width = 3.25;
  c.legend = {{"run-a", "#0072b2", ""}, {"train", "#5b6475", "6 4"}, {"<test>", "#5b6475", ""}};
  const std::string svg = render_line_chart(c);
  const std::string legend = svg.substr(svg.find("<g class=\"legend\">"));
  EXPECT_EQ(count_occurrences(legend, "<text"), 3u);
  EXPECT_NE(legend.find(">run-a</text>"), std::string::npos);
  EXPECT_NE(legend.find(">&lt;test&gt;</text>"), std::string::npos);
  EXPECT_EQ(legend.find("run-a \u00b7 train"), std::string::npos);
  // The series keep their full names in the tooltips, and their widths.
  EXPECT_NE(svg.find("run-a \u00b7 train: epoch 2, 0.5<"), std::string::npos);
  EXPECT_NE(svg.find("stroke-width=\"3.2\""), std::string::npos);
}

TEST(ReportHtml, EscapingAndNumbers) {
  EXPECT_EQ(escape_html("T-shirt/top"), "T-shirt/top");
  EXPECT_EQ(escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
  EXPECT_EQ(percent(0.98765), "98.77%");
  EXPECT_EQ(percent(1.0, 1), "100.0%");
  EXPECT_EQ(thousands(1234567.4), "1,234,567");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(thousands(-12345), "-12,345");
  EXPECT_EQ(duration(42.04), "42.0 s");
  EXPECT_EQ(duration(192), "3 min 12 s");
  EXPECT_EQ(duration(3900), "1 h 05 min");
}

}  // namespace
}  // namespace kestrel::report
