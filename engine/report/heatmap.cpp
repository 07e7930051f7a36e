#include "engine/report/heatmap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "engine/report/html.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace {

// ColorBrewer's sequential Blues and Oranges (9 classes), light to dark.
constexpr std::array<Rgb, 9> kBlues = {{{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                        {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                        {33, 113, 181}, {8, 81, 156}, {8, 48, 107}}};
constexpr std::array<Rgb, 9> kOranges = {{{255, 245, 235}, {254, 230, 206}, {253, 208, 162},
                                          {253, 174, 107}, {253, 141, 60}, {241, 105, 19},
                                          {217, 72, 1}, {166, 54, 3}, {127, 39, 4}}};
constexpr Rgb kZeroCell{251, 251, 252};
constexpr Rgb kZeroText{150, 158, 172};

Rgb interpolate(const std::array<Rgb, 9>& stops, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  const double at = t * static_cast<double>(stops.size() - 1);
  const size_t i = std::min(static_cast<size_t>(at), stops.size() - 2);
  const double f = at - static_cast<double>(i);
  const auto mix = [f](int a, int b) {
    return static_cast<int>(std::lround(a + (b - a) * f));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g),
          mix(stops[i].b, stops[i + 1].b)};
}

double linear_channel(int c8) {
  const double c = c8 / 255.0;
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

// Layout, in SVG user units.
constexpr double kCharWidth = 7.0;  // average advance of a 12px character
constexpr double kTitleHeight = 30;

}  // namespace

std::string Rgb::hex() const { return fmt::format("#{:02x}{:02x}{:02x}", r, g, b); }

Rgb diagonal_colour(double t) { return interpolate(kBlues, t); }
Rgb mistake_colour(double t) { return interpolate(kOranges, t); }

double relative_luminance(Rgb c) {
  return 0.2126 * linear_channel(c.r) + 0.7152 * linear_channel(c.g) +
         0.0722 * linear_channel(c.b);
}

double contrast_ratio(Rgb a, Rgb b) {
  const double la = relative_luminance(a), lb = relative_luminance(b);
  return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

Rgb text_colour_on(Rgb background) {
  return contrast_ratio(background, kWhite) > contrast_ratio(background, kDarkInk) ? kWhite
                                                                                     : kDarkInk;
}

std::string render_confusion_heatmap(const std::vector<std::vector<int64_t>>& counts,
                                     const std::vector<std::string>& class_names,
                                     const std::string& id, const std::string& title) {
  const size_t n = counts.size();
  KESTREL_CHECK(n > 0, "confusion heatmap: the matrix is empty");
  for (const auto& row : counts)
    KESTREL_CHECK(row.size() == n, "confusion heatmap: row of {} counts in a {}x{} matrix",
                  row.size(), n, n);
  const auto name = [&](size_t k) {
    return k < class_names.size() ? class_names[k] : std::to_string(k);
  };

  // Scales: recall on the diagonal, the largest mistake off it.
  int64_t worst_mistake = 0;
  std::vector<int64_t> row_total(n, 0);
  for (size_t t = 0; t < n; ++t) {
    for (size_t p = 0; p < n; ++p) {
      row_total[t] += counts[t][p];
      if (t != p) worst_mistake = std::max(worst_mistake, counts[t][p]);
    }
  }
  int64_t largest = 1;
  for (const auto& row : counts)
    for (int64_t c : row) largest = std::max(largest, c);

  double longest_name = 0;
  for (size_t k = 0; k < n; ++k)
    longest_name = std::max(longest_name, kCharWidth * static_cast<double>(name(k).size()));
  const double cell = std::clamp(std::floor(500.0 / static_cast<double>(n)), 14.0, 48.0);
  const bool rotate_x = longest_name > cell - 6;
  const double left = 34 + longest_name + 10;  // axis title, names, gap
  const double top = kTitleHeight + 8;
  const double grid = cell * static_cast<double>(n);
  const double x_names = rotate_x ? longest_name * 0.72 + 14 : 20;
  const double legend_top = top + grid + x_names + 30;
  const std::string correct_label = "correct: shade by recall";
  const std::string mistake_label =
      worst_mistake > 0 ? fmt::format("mistakes: shade by count (max {})", worst_mistake)
                        : std::string("mistakes: none");
  const double legend_width =
      2 * (5 * 14 + 6 + 18) +
      kCharWidth * static_cast<double>(correct_label.size() + mistake_label.size());
  const double width = std::max(left + grid, left + legend_width) + 16;
  const double height = legend_top + 30;

  // The count's font shrinks to fit the cell, and goes when it would be unreadable.
  const int digits = static_cast<int>(std::to_string(largest).size());
  const double font = std::min(12.5, (cell - 6) / (0.62 * digits));

  std::string svg = fmt::format(
      "<svg id=\"{}\" class=\"heatmap\" viewBox=\"0 0 {:.0f} {:.0f}\" width=\"{:.0f}\" "
      "height=\"{:.0f}\" role=\"img\" aria-label=\"{}\">\n<title>{}</title>\n",
      escape_html(id), width, height, width, height, escape_html(title), escape_html(title));
  svg += fmt::format("<text class=\"chart-title\" x=\"{:.1f}\" y=\"19\">{}</text>\n", left,
                     escape_html(title));

  svg += "<g class=\"cells\">\n";
  for (size_t t = 0; t < n; ++t) {
    for (size_t p = 0; p < n; ++p) {
      const int64_t c = counts[t][p];
      const double share =
          row_total[t] > 0 ? static_cast<double>(c) / static_cast<double>(row_total[t]) : 0.0;
      Rgb fill = kZeroCell, ink = kZeroText;
      if (t == p && row_total[t] > 0) {
        fill = diagonal_colour(0.15 + 0.85 * share);
        ink = text_colour_on(fill);
      } else if (c > 0) {
        fill = mistake_colour(0.15 + 0.85 * static_cast<double>(c) /
                                         static_cast<double>(std::max<int64_t>(worst_mistake, 1)));
        ink = text_colour_on(fill);
      }
      const double x = left + cell * static_cast<double>(p);
      const double y = top + cell * static_cast<double>(t);
      svg += fmt::format(
          "<g><rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
          "stroke=\"#ffffff\" stroke-width=\"1\"/>",
          x, y, cell, cell, fill.hex());
      if (font >= 6.5) {
        svg += fmt::format(
            "<text class=\"cell-count\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" "
            "font-size=\"{:.1f}\" fill=\"{}\">{}</text>",
            x + cell / 2, y + cell / 2 + font * 0.36, font, ink.hex(), c);
      }
      svg += fmt::format("<title>true {}, predicted {}: {} ({} of the {})</title></g>\n",
                         escape_html(name(t)), escape_html(name(p)), c, percent(share, 1),
                         escape_html(name(t)));
    }
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"#98a1b0\"/>\n",
      left, top, grid, grid);

  // Class names: true classes on the left, predictions below (slanted when they are long).
  svg += "<g class=\"ticks\">\n";
  for (size_t k = 0; k < n; ++k) {
    const double centre = cell * (static_cast<double>(k) + 0.5);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                       left - 6, top + centre + 4, escape_html(name(k)));
    if (rotate_x) {
      svg += fmt::format(
          "<text transform=\"translate({:.1f} {:.1f}) rotate(-45)\" text-anchor=\"end\">{}</text>\n",
          left + centre + 4, top + grid + 10, escape_html(name(k)));
    } else {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                         left + centre, top + grid + 16, escape_html(name(k)));
    }
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<text class=\"axis-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">predicted "
      "class</text>\n",
      left + grid / 2, top + grid + x_names + 12);
  svg += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(16 {:.1f}) rotate(-90)\" "
      "text-anchor=\"middle\">true class</text>\n",
      top + grid / 2);

  // Legend: the two scales.
  svg += "<g class=\"legend\">\n";
  double x = left;
  const auto swatches = [&](Rgb (*scale)(double), const std::string& label) {
    for (int i = 0; i < 5; ++i) {
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"14\" height=\"14\" fill=\"{}\" "
          "stroke=\"#d9dee7\"/>",
          x, legend_top - 11, scale(0.15 + 0.85 * i / 4.0).hex());
      x += 14;
    }
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x + 6, legend_top,
                       escape_html(label));
    x += 6 + kCharWidth * static_cast<double>(label.size()) + 18;
  };
  swatches(diagonal_colour, correct_label);
  swatches(mistake_colour, mistake_label);
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace kestrel::report
