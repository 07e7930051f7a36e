#pragma once
// Context: what an op needs to run on one device. On the CPU that is the device and its memory
// pool; the CUDA backend adds the stream, library handles and workspace here.
#include "engine/core/device.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel {

class MemoryPool;

class Context {
 public:
  explicit Context(Device device = Device::cpu());

  Device device() const { return device_; }
  MemoryPool& pool() const;

  // Scratch memory on this context's device (im2col buffers, per-row losses). Drawn from the
  // pool, so repeated steps reuse the same blocks.
  Tensor scratch(const Shape& shape, DType dtype = DType::F32) const {
    return Tensor::empty(shape, dtype, device_);
  }

 private:
  Device device_;
};

}  // namespace kestrel
