#pragma once
// Text helpers for tests that check generated documents (HTML, SVG, Markdown).
#include <cstddef>
#include <string>

namespace kestrel::test {

// Occurrences of `what` in `text`, overlapping ones included.
inline size_t count_occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace kestrel::test
