#pragma once
// Storage: one block of memory on one device, owned by (and returned to) that device's pool.
// Tensors are views into a shared Storage.
#include <cstddef>
#include <memory>

#include "engine/core/device.hpp"

namespace kestrel {

class MemoryPool;

class Storage {
 public:
  // `bytes` from `pool`, which must be the pool of `device`.
  Storage(Device device, MemoryPool& pool, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  static std::shared_ptr<Storage> allocate(Device device, size_t bytes);

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  Device device_;
  MemoryPool* pool_;
  void* data_;
  size_t nbytes_;
};

// The pool that owns memory of `device`. Only the CPU has one until the CUDA backend
// registers its per-GPU pools.
MemoryPool& pool_for(Device device);

}  // namespace kestrel
