#pragma once
// The allocator a MemoryPool draws segments from: host memory here, cudaMalloc in the CUDA
// backend, a counting fake in the tests. Injected so the pool's bookkeeping is testable on
// any machine.
#include <cstddef>
#include <string>

namespace kestrel {

class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  // Returns `bytes` of memory aligned to at least 256 bytes, or throws kestrel::Error whose
  // message names `bytes` (the MemoryPool passes a failure on to its caller unchanged).
  virtual void* allocate(size_t bytes) = 0;
  // Takes back a block from allocate() with the same `bytes`. Must not throw: the pool's
  // destructor calls it.
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual std::string name() const = 0;
};

// Page-aligned host memory from the C runtime.
class HostAllocator final : public RawAllocator {
 public:
  void* allocate(size_t bytes) override;
  void deallocate(void* ptr, size_t bytes) override;
  std::string name() const override { return "host"; }
};

}  // namespace kestrel
