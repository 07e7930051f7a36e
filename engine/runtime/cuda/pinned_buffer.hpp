#pragma once
// Page-locked host memory: copies from and to it run asynchronously at full PCIe/NVLink speed
// (the loss read back every N steps, batches staged from the host).
#include <driver_types.h>

#include <cstddef>

namespace kestrel::cuda {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  size_t size() const { return bytes_; }

  // Queues a copy of `bytes` from device memory into this buffer (or back) on `stream`.
  void copy_from_device(const void* device_src, size_t bytes, cudaStream_t stream);
  void copy_to_device(void* device_dst, size_t bytes, cudaStream_t stream) const;

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace kestrel::cuda
