#pragma once
// Tensor: a typed, shaped, contiguous (row-major, NCHW for images) view into a Storage at a
// byte offset. Copying a Tensor copies the view, not the data. Parameters and gradients are
// views into one flat buffer each.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/device.hpp"
#include "engine/core/dtype.hpp"
#include "engine/core/shape.hpp"
#include "engine/tensor/storage.hpp"
#include "kernels/common/error.hpp"

namespace kestrel {

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised memory from the device's pool.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  // A host f32 tensor holding a copy of `values` (numel must match).
  static Tensor from_vector(const Shape& shape, std::span<const float> values);
  static Tensor from_vector(const Shape& shape, std::span<const int32_t> values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int i) const { return shape_.dim(i); }
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  size_t offset_bytes() const { return offset_; }

  void* raw_data();
  const void* raw_data() const;
  template <class T>
  T* data() {
    check_dtype(dtype_of<T>::value);
    return static_cast<T*>(raw_data());
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>::value);
    return static_cast<const T*>(raw_data());
  }

  // Same data, new shape with the same number of elements.
  Tensor view(const Shape& shape) const;
  // Collapses dimensions [start, end] into one (PyTorch's flatten).
  Tensor flatten(int start_dim = 1, int end_dim = -1) const;
  // Rows [begin, end) of the outermost dimension.
  Tensor slice(int64_t begin, int64_t end) const;
  // A view of `shape` starting `element_offset` elements into this tensor's data (how layers
  // take their parameters out of the flat buffer).
  Tensor sub(int64_t element_offset, const Shape& shape) const;
  // A view of `shape` and `dtype` starting `byte_offset` bytes into this tensor's data, which
  // it must fit in (how the graph carves typed tensors out of its byte arena and state store).
  // The offset must be a multiple of the dtype's size.
  Tensor reinterpret(int64_t byte_offset, const Shape& shape, DType dtype) const;

  // Host round-trips, for tests and I/O (from any device; waits for queued work).
  std::vector<float> to_vector() const;
  std::vector<int32_t> to_int_vector() const;
  void fill(float value);
  // Copies src's data (same shape and dtype, any device) into this tensor.
  void copy_from(const Tensor& src);
  // A copy on `target`.
  Tensor to(Device target) const;

  // "f32[2, 3, 8, 8] on cpu"
  std::string str() const;

 private:
  void check_dtype(DType expected) const;

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
  DType dtype_ = DType::F32;
};

}  // namespace kestrel
