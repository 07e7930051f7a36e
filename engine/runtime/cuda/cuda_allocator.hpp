#pragma once
// Raw device memory for one GPU's MemoryPool. An out-of-memory error names the request, what
// the device has free, and what to do about it.
#include "engine/memory/raw_allocator.hpp"

namespace kestrel::cuda {

class CudaAllocator final : public RawAllocator {
 public:
  explicit CudaAllocator(int device_index) : device_(device_index) {}
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  std::string name() const override;

 private:
  int device_;
};

}  // namespace kestrel::cuda
