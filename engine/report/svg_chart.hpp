#pragma once
// Line charts as inline SVG, drawn by kestrel itself so that a report needs no JavaScript and
// no network: axes with ticks at nice numbers (1, 2, 2.5 or 5 times a power of ten), axis
// labels, a legend below the plot, several series, and a tooltip (<title>) on every point that
// carries its exact value.
#include <string>
#include <vector>

namespace kestrel::report {

// The tick marks of one axis: the range [lo, hi] the axis spans (a multiple of step at both
// ends, holding every data value) and the values to label, lo, lo + step, ..., hi.
struct Ticks {
  double lo = 0.0, hi = 1.0, step = 1.0;
  std::vector<double> values;
};

// A "nice" number near `x` > 0: 1, 2, 5 or 10 times a power of ten (2.5 too when rounding).
// With round, the nearest such number; without, the smallest one >= x (after Heckbert,
// Graphics Gems 1990).
double nice_number(double x, bool round);

// Ticks for data in [min, max], about `target` of them: the step is the nice number nearest
// (max - min) / (target - 1), and the axis runs from the tick at or below min to the one at or
// above max. An empty range (a single point, a flat
// series) is widened around its value so that the axis still has a span: [v - |v|/10, v + |v|/10],
// or [0, 1] for zero. With integer_steps the step is at least 1 (epochs); with include_zero
// the range reaches down (or up) to 0 (throughput, where a bar from zero is the honest view).
Ticks nice_ticks(double min, double max, int target = 5, bool integer_steps = false,
                 bool include_zero = false);

// A tick label with as many decimals as the step needs ("0.25", "0.0030", "12,000"), and in
// scientific notation below steps of 1e-4 ("2.5e-5").
std::string format_tick(double value, double step);

struct Series {
  std::string name;  // in the legend and the tooltips
  std::vector<double> x, y;
  std::string colour = "#1f77b4";
  std::string dash;    // SVG stroke-dasharray, "" for a solid line
  double width = 2.0;  // line width; a wider line drawn first stays visible under one it meets
};

// A legend key: a line sample in a colour and dash, and its label.
struct LegendEntry {
  std::string label;
  std::string colour;
  std::string dash;
};

struct Axis {
  std::string label;
  bool integer_steps = false;
  bool include_zero = false;
  std::string value_suffix;  // appended to tooltip values ("%", " img/s")
};

struct LineChart {
  std::string id;     // the <svg> element's id (unique in the page)
  std::string title;  // drawn above the plot
  Axis x, y;
  std::vector<Series> series;
  // Keys to show instead of one per series (several runs: a colour per run, then a grey
  // sample per line style). Empty: each series' name.
  std::vector<LegendEntry> legend;
  int width = 620;
  int plot_height = 260;
};

// The chart as an <svg> element. Series with no points draw nothing but keep their legend
// entry; a chart with no points at all says so in its plot area.
std::string render_line_chart(const LineChart& chart);

// Colours for runs and series, distinct for colour-blind readers (Okabe-Ito, then Tableau).
const std::string& series_colour(size_t index);

}  // namespace kestrel::report
