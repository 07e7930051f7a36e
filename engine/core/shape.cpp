#include "engine/core/shape.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/common/error.hpp"

namespace kestrel {

Shape::Shape(std::initializer_list<int64_t> dims) {
  KESTREL_CHECK(dims.size() <= kMaxDims, "a shape has at most {} dimensions, got {}", kMaxDims,
                dims.size());
  for (int64_t d : dims) {
    KESTREL_CHECK(d >= 0, "negative dimension {} in a shape", d);
    dims_[static_cast<size_t>(ndim_++)] = d;
  }
}

Shape Shape::from(const int64_t* dims, int ndim) {
  KESTREL_CHECK(ndim >= 0 && ndim <= kMaxDims, "a shape has at most {} dimensions, got {}",
                kMaxDims, ndim);
  Shape s;
  for (int i = 0; i < ndim; ++i) {
    KESTREL_CHECK(dims[i] >= 0, "negative dimension {} in a shape", dims[i]);
    s.dims_[static_cast<size_t>(i)] = dims[i];
  }
  s.ndim_ = ndim;
  return s;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

std::string Shape::str() const {
  return fmt::format("[{}]", fmt::join(dims_.begin(), dims_.begin() + ndim_, ", "));
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.ndim_ != b.ndim_) return false;
  for (int i = 0; i < a.ndim_; ++i)
    if (a.dims_[static_cast<size_t>(i)] != b.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

}  // namespace kestrel
