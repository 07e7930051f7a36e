#include "engine/report/svg_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/report/html.hpp"

namespace kestrel::report {

namespace {

// Layout of a chart, in SVG user units (pixels at 100% zoom).
constexpr int kMarginLeft = 72;    // y tick labels and the y axis label
constexpr int kMarginRight = 18;
constexpr int kTitleHeight = 38;
constexpr int kXAxisHeight = 44;   // x tick labels and the x axis label
constexpr int kLegendRow = 20;
constexpr double kCharWidth = 6.6;  // average advance of a 12px sans-serif character

// Rough text width, enough to lay out legend entries without overlap.
double text_width(std::string_view text, double char_width = kCharWidth) {
  return char_width * static_cast<double>(text.size());
}

std::string number(double v) { return fmt::format("{:.1f}", v); }

// A tooltip value with the precision a reader wants: 4 significant digits.
std::string exact(double v) {
  if (std::fabs(v) >= 1e5) return thousands(v);
  return fmt::format("{:.4g}", v);
}

struct Extent {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  bool empty() const { return min > max; }
  void add(double v) {
    if (!std::isfinite(v)) return;
    min = std::min(min, v);
    max = std::max(max, v);
  }
};

}  // namespace

double nice_number(double x, bool round) {
  if (!(x > 0.0) || !std::isfinite(x)) return 1.0;
  const double exponent = std::floor(std::log10(x));
  const double power = std::pow(10.0, exponent);
  const double fraction = x / power;  // in [1, 10)
  double nice;
  if (round) {
    nice = fraction < 1.5 ? 1.0 : fraction < 2.25 ? 2.0 : fraction < 3.5 ? 2.5 : fraction < 7.5 ? 5.0 : 10.0;
  } else {
    nice = fraction <= 1.0 ? 1.0 : fraction <= 2.0 ? 2.0 : fraction <= 5.0 ? 5.0 : 10.0;
  }
  return nice * power;
}

Ticks nice_ticks(double min, double max, int target, bool integer_steps, bool include_zero) {
  if (!std::isfinite(min) || !std::isfinite(max)) min = 0.0, max = 1.0;
  if (min > max) std::swap(min, max);
  if (include_zero) {
    min = std::min(min, 0.0);
    max = std::max(max, 0.0);
  }
  if (max - min <= std::fabs(max) * 1e-12) {
    // One value (include_zero makes that 0): give it room. An epoch axis gets one epoch either
    // side, zero gets [0, 1], anything else a tenth of its size either side.
    if (integer_steps) {
      min -= 1.0;
      max += 1.0;
    } else if (max == 0.0) {
      max = 1.0;
    } else {
      const double pad = std::fabs(max) / 10.0;
      min -= pad;
      max += pad;
    }
  }
  target = std::max(target, 2);
  double step = nice_number((max - min) / (target - 1), true);
  if (integer_steps) step = std::max(step, 1.0);
  Ticks t;
  t.step = step;
  // A tiny slack so that a value exactly on a tick (after rounding noise) stays on it.
  t.lo = std::floor(min / step + 1e-9) * step;
  t.hi = std::ceil(max / step - 1e-9) * step;
  const auto count = static_cast<int64_t>(std::llround((t.hi - t.lo) / step));
  for (int64_t i = 0; i <= count; ++i) {
    double v = t.lo + static_cast<double>(i) * step;
    if (std::fabs(v) < step * 1e-9) v = 0.0;  // no "-0"
    t.values.push_back(v);
  }
  return t;
}

std::string format_tick(double value, double step) {
  if (value == 0.0) return "0";
  const double magnitude = std::max(std::fabs(value), step);
  if (step < 1e-4 && magnitude < 1e-2) {
    // Small values (learning rates): mantissa and exponent, "3e-4", "2.5e-5".
    const int exponent = static_cast<int>(std::floor(std::log10(std::fabs(value)) + 1e-9));
    const double mantissa = value / std::pow(10.0, exponent);
    return fmt::format("{}e{}", fmt::format("{:.2g}", mantissa), exponent);
  }
  if (step >= 1.0 && std::fabs(value) >= 1000.0) return thousands(value);
  const int decimals = step >= 1.0 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  // 2.5 times a power of ten needs one more decimal than the power.
  const double scaled = step * std::pow(10.0, decimals);
  const int extra = std::fabs(scaled - std::round(scaled)) > 1e-6 ? 1 : 0;
  return fmt::format("{:.{}f}", value, decimals + extra);
}

const std::string& series_colour(size_t index) {
  static const std::vector<std::string> colours = {
      "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#7f7f7f", "#8c564b",
      "#bcbd22", "#17becf"};
  return colours[index % colours.size()];
}

std::string render_line_chart(const LineChart& chart) {
  Extent xs, ys;
  size_t points = 0;
  for (const Series& s : chart.series) {
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xs.add(s.x[i]);
      ys.add(s.y[i]);
      ++points;
    }
  }
  const Ticks tx = xs.empty() ? nice_ticks(0, 1, 5, chart.x.integer_steps)
                              : nice_ticks(xs.min, xs.max, 7, chart.x.integer_steps,
                                           chart.x.include_zero);
  const Ticks ty = ys.empty() ? nice_ticks(0, 1)
                              : nice_ticks(ys.min, ys.max, 6, chart.y.integer_steps,
                                           chart.y.include_zero);

  // The legend: entries laid out left to right, wrapping to new rows as the width runs out.
  std::vector<LegendEntry> keys = chart.legend;
  if (keys.empty()) {
    for (const Series& s : chart.series) keys.push_back({s.name, s.colour, s.dash});
  }
  struct KeyPlace {
    double x;
    int row;
  };
  const double plot_left = kMarginLeft, plot_right = chart.width - kMarginRight;
  std::vector<KeyPlace> places;
  double cursor = plot_left;
  int rows = keys.empty() ? 0 : 1;
  for (const LegendEntry& key : keys) {
    const double w = 30.0 + text_width(key.label) + 18.0;
    if (cursor > plot_left && cursor + w > plot_right) {
      cursor = plot_left;
      ++rows;
    }
    places.push_back({cursor, rows - 1});
    cursor += w;
  }

  const double plot_top = kTitleHeight, plot_bottom = kTitleHeight + chart.plot_height;
  const int height = kTitleHeight + chart.plot_height + kXAxisHeight + rows * kLegendRow + 8;
  const auto px = [&](double x) {
    return plot_left + (x - tx.lo) / (tx.hi - tx.lo) * (plot_right - plot_left);
  };
  const auto py = [&](double y) {
    return plot_bottom - (y - ty.lo) / (ty.hi - ty.lo) * (plot_bottom - plot_top);
  };

  std::string svg = fmt::format(
      "<svg id=\"{}\" class=\"chart\" viewBox=\"0 0 {} {}\" "
      "width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">\n",
      escape_html(chart.id), chart.width, height, chart.width, height, escape_html(chart.title));
  svg += fmt::format("<title>{}</title>\n", escape_html(chart.title));
  svg += fmt::format("<text class=\"chart-title\" x=\"{}\" y=\"19\">{}</text>\n", number(plot_left),
                     escape_html(chart.title));

  // Grid lines and tick labels.
  svg += "<g class=\"grid\">\n";
  for (double v : ty.values) {
    const double y = py(v);
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", number(plot_left),
                       number(y), number(plot_right), number(y));
  }
  for (double v : tx.values) {
    const double x = px(v);
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", number(x),
                       number(plot_top), number(x), number(plot_bottom));
  }
  svg += "</g>\n<g class=\"ticks\">\n";
  for (double v : ty.values) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                       number(plot_left - 8), number(py(v) + 4), format_tick(v, ty.step));
  }
  for (double v : tx.values) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", number(px(v)),
                       number(plot_bottom + 17), format_tick(v, tx.step));
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n", number(plot_left),
      number(plot_top), number(plot_right - plot_left), number(plot_bottom - plot_top));
  svg += fmt::format("<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     number((plot_left + plot_right) / 2), number(plot_bottom + 37),
                     escape_html(chart.x.label));
  svg += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(16 {}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>\n",
      number((plot_top + plot_bottom) / 2), escape_html(chart.y.label));

  if (points == 0) {
    svg += fmt::format("<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data "
                       "recorded</text>\n",
                       number((plot_left + plot_right) / 2), number((plot_top + plot_bottom) / 2));
  }

  // The series: a polyline through the points, a dot with a tooltip on each.
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const Series& s = chart.series[k];
    std::string line, dots;
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      const double x = px(s.x[i]), y = py(s.y[i]);
      line += fmt::format("{}{},{}", line.empty() ? "" : " ", number(x), number(y));
      dots += fmt::format(
          "<circle cx=\"{}\" cy=\"{}\" r=\"3\"><title>{}: {} {}, {}{}</title></circle>\n",
          number(x), number(y), escape_html(s.name), escape_html(chart.x.label), exact(s.x[i]),
          exact(s.y[i]), escape_html(chart.y.value_suffix));
    }
    svg += fmt::format("<g class=\"series\" data-series=\"{}\" stroke=\"{}\" fill=\"{}\">\n",
                       escape_html(s.name), s.colour, s.colour);
    if (!line.empty()) {
      svg += fmt::format("<polyline fill=\"none\" stroke-width=\"{}\"{} points=\"{}\"/>\n",
                         number(s.width),
                         s.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", s.dash),
                         line);
    }
    svg += dots + "</g>\n";
  }

  // Legend below the x axis label.
  svg += "<g class=\"legend\">\n";
  for (size_t k = 0; k < keys.size(); ++k) {
    const LegendEntry& key = keys[k];
    const double x = places[k].x;
    const double y = plot_bottom + kXAxisHeight + 12 + places[k].row * kLegendRow;
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2.5\"{}/>"
        "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{}\"/>"
        "<text x=\"{}\" y=\"{}\">{}</text>\n",
        number(x), number(y), number(x + 24), number(y), key.colour,
        key.dash.empty() ? "" : fmt::format(" stroke-dasharray=\"{}\"", key.dash),
        number(x + 12), number(y), key.colour, number(x + 30), number(y + 4),
        escape_html(key.label));
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace kestrel::report
