#pragma once
// The HTML around a report: escaping, number formatting, tables and the page itself with its
// inline style sheet (clean on screen, readable in print, no external resources, no scripts).
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::report {

// Escapes &, <, >, " and ' so that any text (a class name such as "T-shirt/top" or "<script>")
// can go into element content and attribute values alike.
std::string escape_html(std::string_view text);

// "98.76%" for 0.98765 (fraction in, percent out, `decimals` places).
std::string percent(double fraction, int decimals = 2);
// "12,345" for 12345.4.
std::string thousands(double value);
// "42.0 s", "3 min 12 s", "1 h 05 min".
std::string duration(double seconds);

// A table: header cells, rows of cells (already HTML), and which columns are numeric (right
// aligned, tabular figures).
struct Table {
  std::string css_class;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // per column; missing entries are text
};
std::string render_table(const Table& table);

// A whole page: <!DOCTYPE html>, the style sheet, `title` in <title>, `body` as given.
std::string render_page(std::string_view title, std::string_view body);

}  // namespace kestrel::report
