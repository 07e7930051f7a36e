#include "kernels/cuda/library_check.hpp"

#include <fmt/format.h>

namespace kestrel::detail {

void throw_cublas_error(const char* file, int line, const char* call, int status) {
  throw_error(file, line, call,
              fmt::format("cuBLAS error {}: {}", status,
                          cublasGetStatusString(static_cast<cublasStatus_t>(status))));
}

void throw_cudnn_error(const char* file, int line, const char* call, int status) {
#if defined(KESTREL_HAVE_CUDNN)
  throw_error(file, line, call,
              fmt::format("cuDNN error {}: {}", status,
                          cudnnGetErrorString(static_cast<cudnnStatus_t>(status))));
#else
  throw_error(file, line, call, fmt::format("cuDNN error {}", status));
#endif
}

}  // namespace kestrel::detail
