#pragma once
// A small XML well-formedness checker for tests of generated documents (the graph's SVG): one
// root element, tags that nest and close, attribute values quoted and not repeated, and only
// XML's five named entities or character references. It returns the elements in document order
// with their attributes and their own text (references decoded, ASCII only), or throws
// std::runtime_error naming the offset of the first fault. No DTDs, CDATA or namespaces beyond
// plain names.
#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace kestrel::test {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;  // the element's own character data, decoded
  int parent = -1;   // index into the returned vector; -1 for the root
};

namespace xml_detail {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  std::vector<XmlElement> parse() {
    skip_misc();
    if (starts_with("<?xml")) {
      pos_ = find_or_fail("?>") + 2;
      skip_misc();
    }
    if (pos_ >= s_.size() || s_[pos_] != '<') fail("no root element");
    element(-1);
    skip_misc();
    if (pos_ != s_.size()) fail("content after the root element");
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML: " + what + " at offset " + std::to_string(pos_));
  }
  bool starts_with(const char* p) const {
    return s_.compare(pos_, std::char_traits<char>::length(p), p) == 0;
  }
  size_t find_or_fail(const char* p) const {
    const size_t at = s_.find(p, pos_);
    if (at == std::string::npos) fail(std::string("unterminated, no '") + p + "'");
    return at;
  }
  // Whitespace and comments between elements.
  void skip_misc() {
    for (;;) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (!starts_with("<!--")) return;
      pos_ = find_or_fail("-->") + 3;
    }
  }
  static bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
           c == '.';
  }
  std::string name() {
    const size_t start = pos_;
    if (pos_ >= s_.size() ||
        !(std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      fail("expected a name");
    while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // An entity or character reference at pos_ ('&'), decoded (beyond ASCII as '?').
  std::string reference() {
    const size_t end = s_.find(';', pos_);
    if (end == std::string::npos || end - pos_ > 10) fail("'&' that starts no reference");
    const std::string ref = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    if (ref == "amp") return "&";
    if (ref == "lt") return "<";
    if (ref == "gt") return ">";
    if (ref == "quot") return "\"";
    if (ref == "apos") return "'";
    const bool hex = ref.size() > 2 && ref[0] == '#' && ref[1] == 'x';
    const size_t digits = hex ? 2 : 1;
    if (ref.size() <= digits || ref[0] != '#') fail("unknown entity &" + ref + ";");
    for (size_t i = digits; i < ref.size(); ++i)
      if (!(hex ? std::isxdigit(static_cast<unsigned char>(ref[i]))
                : std::isdigit(static_cast<unsigned char>(ref[i]))))
        fail("bad character reference &" + ref + ";");
    const long code = std::stol(ref.substr(digits), nullptr, hex ? 16 : 10);
    return code > 0 && code < 128 ? std::string(1, static_cast<char>(code)) : "?";
  }
  void element(int parent) {
    ++pos_;  // '<'
    XmlElement e;
    e.name = name();
    e.parent = parent;
    for (;;) {
      const size_t before = pos_;
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ >= s_.size()) fail("unterminated tag <" + e.name);
      if (starts_with("/>") || s_[pos_] == '>') break;
      if (pos_ == before) fail("no space before an attribute");
      const std::string key = name();
      if (pos_ >= s_.size() || s_[pos_] != '=') fail("attribute " + key + " without '='");
      ++pos_;
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) fail("unquoted value");
      const char quote = s_[pos_++];
      std::string value;
      while (pos_ < s_.size() && s_[pos_] != quote) {
        if (s_[pos_] == '<') fail("'<' in an attribute value");
        if (s_[pos_] == '&') {
          value += reference();
        } else {
          value += s_[pos_++];
        }
      }
      if (pos_ >= s_.size()) fail("unterminated attribute value");
      ++pos_;
      if (!e.attributes.emplace(key, value).second) fail("repeated attribute " + key);
    }
    const int index = static_cast<int>(out_.size());
    out_.push_back(e);
    if (starts_with("/>")) {
      pos_ += 2;
      return;
    }
    ++pos_;  // '>'
    for (;;) {
      if (pos_ >= s_.size()) fail("<" + e.name + "> is never closed");
      if (starts_with("</")) {
        pos_ += 2;
        if (name() != e.name) fail("</...> does not close <" + e.name + ">");
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
        if (pos_ >= s_.size() || s_[pos_] != '>') fail("unterminated end tag");
        ++pos_;
        return;
      }
      if (starts_with("<!--")) {
        pos_ = find_or_fail("-->") + 3;
      } else if (s_[pos_] == '<') {
        element(index);
      } else if (s_[pos_] == '&') {
        out_[static_cast<size_t>(index)].text += reference();
      } else {
        out_[static_cast<size_t>(index)].text += s_[pos_++];
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
  std::vector<XmlElement> out_;
};

}  // namespace xml_detail

inline std::vector<XmlElement> parse_xml(const std::string& text) {
  return xml_detail::Parser(text).parse();
}

}  // namespace kestrel::test
