#pragma once
// How GoogleTest prints kestrel types in test names and failure messages.
#include <ostream>

#include "engine/core/shape.hpp"

namespace kestrel {
inline void PrintTo(const Shape& s, std::ostream* os) { *os << s.str(); }
}  // namespace kestrel
