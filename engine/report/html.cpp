#include "engine/report/html.hpp"

#include <fmt/format.h>

#include <cmath>

namespace kestrel::report {

namespace {

// One style sheet for the whole page. System fonts, a light palette, tables with tabular
// figures; in print the navigation goes and figures do not split across pages.
constexpr std::string_view kStyle = R"css(
:root { --ink: #1d2433; --muted: #5b6475; --line: #d9dee7; --panel: #f5f7fa; --accent: #0072b2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 20px 32px 48px; }
header.page { border-bottom: 3px solid var(--accent); padding-bottom: 10px; margin-bottom: 8px; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 4px; }
h2 { font-size: 22px; margin: 34px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 8px; }
p { margin: 6px 0; }
.muted { color: var(--muted); }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
nav.toc { font-size: 14px; margin: 8px 0 0; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
a { color: var(--accent); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 10px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; min-width: 150px; }
.card .value { font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 18px 24px; }
figure.chart-box { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 6px 8px 2px; background: #fff; }
svg.chart, svg.heatmap { display: block; width: 100%; height: auto; font-family: inherit; font-size: 12px; }
svg.heatmap { max-width: 640px; }
svg .chart-title { font-size: 15px; font-weight: 600; fill: var(--ink); }
svg .grid line { stroke: #e7eaf0; stroke-width: 1; }
svg .frame { fill: none; stroke: #98a1b0; stroke-width: 1; }
svg .ticks text { fill: var(--muted); }
svg .axis-label { fill: var(--ink); font-size: 13px; }
svg .legend text { fill: var(--ink); }
svg .no-data { fill: var(--muted); font-style: italic; }
svg .cell-count { font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; border-bottom: 2px solid var(--line); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfd; }
table.summary td:first-child { white-space: nowrap; }
table.config td:first-child { color: var(--muted); white-space: nowrap; }
.bar { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px; vertical-align: middle; opacity: 0.75; }
.low { color: #b3261e; font-weight: 600; }
.side-by-side { display: grid; grid-template-columns: minmax(0, 640px) minmax(0, 1fr); gap: 28px; align-items: start; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 28px; align-items: start; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 10px; }
.gallery figure { margin: 0; text-align: center; border: 1px solid var(--line); border-radius: 6px; padding: 6px 4px 4px; background: #fff; }
.gallery img { image-rendering: pixelated; display: block; margin: 0 auto 4px; }
.gallery figcaption { font-size: 12px; line-height: 1.35; }
.gallery .true { color: #1a7f37; font-weight: 600; }
.gallery .pred { color: #b3261e; font-weight: 600; }
.notice { background: #fff6e6; border-left: 4px solid #e69f00; padding: 8px 12px; margin: 10px 0; }
.notice.error { background: #fdecea; border-left-color: #b3261e; }
section.run { margin-top: 28px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 900px) { .side-by-side, .columns { grid-template-columns: 1fr; } main { padding: 12px; } }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  .charts { grid-template-columns: 1fr 1fr; }
  figure, table, .card, .gallery figure { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  section.run { break-before: page; }
}
)css";

}  // namespace

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent(double fraction, int decimals) {
  if (!std::isfinite(fraction)) return "&ndash;";
  return fmt::format("{:.{}f}%", 100.0 * fraction, decimals);
}

std::string thousands(double value) {
  if (!std::isfinite(value)) return "&ndash;";
  const double rounded = std::round(value);
  const std::string digits = fmt::format("{:.0f}", std::fabs(rounded));
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return rounded < 0 ? "-" + out : out;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "&ndash;";
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 3600) return fmt::format("{} min {:02} s", s / 60, s % 60);
  return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
}

std::string render_table(const Table& table) {
  const auto is_numeric = [&](size_t column) {
    return column < table.numeric.size() && table.numeric[column];
  };
  std::string out = table.css_class.empty()
                        ? std::string("<table>\n")
                        : fmt::format("<table class=\"{}\">\n", escape_html(table.css_class));
  out += "<thead><tr>";
  for (size_t c = 0; c < table.header.size(); ++c)
    out += fmt::format("<th{}>{}</th>", is_numeric(c) ? " class=\"num\"" : "", table.header[c]);
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c)
      out += fmt::format("<td{}>{}</td>", is_numeric(c) ? " class=\"num\"" : "", row[c]);
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  return out;
}

std::string render_page(std::string_view title, std::string_view body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"kestrel report\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n{}</main>\n</body>\n</html>\n",
      escape_html(title), kStyle, body);
}

}  // namespace kestrel::report
