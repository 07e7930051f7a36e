#pragma once
// Checks for cuBLAS/cuBLASLt and cuDNN status codes, with each library's error string.
#include <cublas_api.h>
#if defined(KESTREL_HAVE_CUDNN)
#include <cudnn.h>
#endif

#include "kernels/common/error.hpp"

namespace kestrel::detail {
[[noreturn]] void throw_cublas_error(const char* file, int line, const char* call, int status);
[[noreturn]] void throw_cudnn_error(const char* file, int line, const char* call, int status);
}  // namespace kestrel::detail

#define KESTREL_CUBLAS_CHECK(call)                                              \
  do {                                                                          \
    const cublasStatus_t kestrel_status_ = (call);                              \
    if (kestrel_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]] {                \
      ::kestrel::detail::throw_cublas_error(__FILE__, __LINE__, #call,          \
                                            static_cast<int>(kestrel_status_)); \
    }                                                                           \
  } while (0)

#define KESTREL_CUDNN_CHECK(call)                                              \
  do {                                                                         \
    const cudnnStatus_t kestrel_status_ = (call);                              \
    if (kestrel_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]] {                \
      ::kestrel::detail::throw_cudnn_error(__FILE__, __LINE__, #call,          \
                                           static_cast<int>(kestrel_status_)); \
    }                                                                          \
  } while (0)
