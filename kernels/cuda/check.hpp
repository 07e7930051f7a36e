#pragma once
// Checks for every CUDA runtime call: a failure throws kestrel::Error with file, line, the
// call's text and CUDA's own error name and string. Usable from .cu files (no fmt here: the
// message is composed out of line, in check.cpp). Nothing here exits.
#include <cuda_runtime_api.h>

#include "kernels/common/error.hpp"

namespace kestrel::detail {
[[noreturn]] void throw_cuda_error(const char* file, int line, const char* call, int status);
}  // namespace kestrel::detail

#define KESTREL_CUDA_CHECK(call)                                              \
  do {                                                                        \
    const cudaError_t kestrel_status_ = (call);                               \
    if (kestrel_status_ != cudaSuccess) [[unlikely]] {                        \
      ::kestrel::detail::throw_cuda_error(__FILE__, __LINE__, #call,          \
                                          static_cast<int>(kestrel_status_)); \
    }                                                                         \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launch site.
#define KESTREL_CUDA_CHECK_LAUNCH() KESTREL_CUDA_CHECK(cudaGetLastError())
