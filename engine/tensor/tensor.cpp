#include "engine/tensor/tensor.hpp"

#include <algorithm>
#include <cstring>

#include "engine/tensor/copy.hpp"

namespace kestrel {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.storage_ = Storage::allocate(device, static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  zero_bytes(t.raw_data(), device, t.nbytes());
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, std::span<const float> values) {
  KESTREL_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
                "from_vector: {} values for shape {} ({} elements)", values.size(), shape.str(),
                shape.numel());
  Tensor t = empty(shape, DType::F32);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, std::span<const int32_t> values) {
  KESTREL_CHECK(static_cast<int64_t>(values.size()) == shape.numel(),
                "from_vector: {} values for shape {} ({} elements)", values.size(), shape.str(),
                shape.numel());
  Tensor t = empty(shape, DType::I32);
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

void* Tensor::raw_data() {
  KESTREL_CHECK(defined(), "access to the data of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_;
}

const void* Tensor::raw_data() const {
  KESTREL_CHECK(defined(), "access to the data of an undefined tensor");
  return static_cast<const char*>(storage_->data()) + offset_;
}

void Tensor::check_dtype(DType expected) const {
  KESTREL_CHECK(dtype_ == expected, "tensor {} accessed as {}", str(), dtype_name(expected));
}

Tensor Tensor::view(const Shape& shape) const {
  KESTREL_CHECK(shape.numel() == numel(), "view: cannot view {} as {}", str(), shape.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::flatten(int start_dim, int end_dim) const {
  const int n = ndim();
  if (start_dim < 0) start_dim += n;
  if (end_dim < 0) end_dim += n;
  KESTREL_CHECK(start_dim >= 0 && end_dim < n && start_dim <= end_dim,
                "flatten: dimensions [{}, {}] out of range for {}", start_dim, end_dim, str());
  int64_t dims[Shape::kMaxDims];
  int out = 0;
  for (int i = 0; i < start_dim; ++i) dims[out++] = shape_[i];
  int64_t merged = 1;
  for (int i = start_dim; i <= end_dim; ++i) merged *= shape_[i];
  dims[out++] = merged;
  for (int i = end_dim + 1; i < n; ++i) dims[out++] = shape_[i];
  return view(Shape::from(dims, out));
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  KESTREL_CHECK(ndim() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
                "slice: rows [{}, {}) out of range for {}", begin, end, str());
  Tensor t = *this;
  const int64_t row = shape_[0] == 0 ? 0 : numel() / shape_[0];
  t.offset_ += static_cast<size_t>(begin * row) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::sub(int64_t element_offset, const Shape& shape) const {
  KESTREL_CHECK(element_offset >= 0 && element_offset + shape.numel() <= numel(),
                "sub: {} elements at offset {} exceed {}", shape.numel(), element_offset, str());
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(element_offset) * dtype_size(dtype_);
  t.shape_ = shape;
  return t;
}

Tensor Tensor::reinterpret(int64_t byte_offset, const Shape& shape, DType dtype) const {
  const int64_t bytes = shape.numel() * static_cast<int64_t>(dtype_size(dtype));
  KESTREL_CHECK(byte_offset >= 0 && byte_offset + bytes <= static_cast<int64_t>(nbytes()) &&
                    byte_offset % static_cast<int64_t>(dtype_size(dtype)) == 0,
                "reinterpret: {}{} at byte {} does not fit {} (or is misaligned)",
                dtype_name(dtype), shape.str(), byte_offset, str());
  Tensor t = *this;
  t.offset_ += static_cast<size_t>(byte_offset);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> v(static_cast<size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), data<float>(), device(), nbytes());
  return v;
}

std::vector<int32_t> Tensor::to_int_vector() const {
  std::vector<int32_t> v(static_cast<size_t>(numel()));
  copy_bytes(v.data(), Device::cpu(), data<int32_t>(), device(), nbytes());
  return v;
}

void Tensor::fill(float value) { fill_floats(data<float>(), device(), numel(), value); }

void Tensor::copy_from(const Tensor& src) {
  KESTREL_CHECK(src.shape() == shape() && src.dtype() == dtype(), "copy_from: {} into {}",
                src.str(), str());
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

Tensor Tensor::to(Device target) const {
  Tensor t = empty(shape_, dtype_, target);
  t.copy_from(*this);
  return t;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}", dtype_name(dtype_), shape_.str(), device().str());
}

}  // namespace kestrel
