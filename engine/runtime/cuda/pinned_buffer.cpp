#include "engine/runtime/cuda/pinned_buffer.hpp"

#include <cuda_runtime_api.h>

#include <utility>

#include "kernels/cuda/check.hpp"

namespace kestrel::cuda {

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) KESTREL_CUDA_CHECK(cudaMallocHost(&data_, bytes));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_) cudaFreeHost(data_);
}

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void PinnedBuffer::copy_from_device(const void* device_src, size_t bytes, cudaStream_t stream) {
  KESTREL_CHECK(bytes <= bytes_, "pinned buffer: copy of {} bytes into {}", bytes, bytes_);
  KESTREL_CUDA_CHECK(cudaMemcpyAsync(data_, device_src, bytes, cudaMemcpyDeviceToHost, stream));
}

void PinnedBuffer::copy_to_device(void* device_dst, size_t bytes, cudaStream_t stream) const {
  KESTREL_CHECK(bytes <= bytes_, "pinned buffer: copy of {} bytes from {}", bytes, bytes_);
  KESTREL_CUDA_CHECK(cudaMemcpyAsync(device_dst, data_, bytes, cudaMemcpyHostToDevice, stream));
}

}  // namespace kestrel::cuda
