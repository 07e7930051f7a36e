#pragma once
// A tensor's dimensions, outermost first (NCHW for images). Fixed capacity, no heap.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace kestrel {

class Shape {
 public:
  static constexpr int kMaxDims = 6;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape from(const int64_t* dims, int ndim);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return dims_[static_cast<size_t>(i)]; }
  // Dimension counted from the end for negative i (dim(-1) is the innermost).
  int64_t dim(int i) const { return (*this)[i < 0 ? ndim_ + i : i]; }
  int64_t numel() const;
  const int64_t* data() const { return dims_.data(); }

  std::string str() const;  // "[2, 3, 32, 32]"

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

}  // namespace kestrel
