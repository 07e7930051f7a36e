#include "kernels/cuda/library_check.hpp"

#include <fmt/format.h>

#include <string>

namespace kestrel::detail {

void throw_cublas_error(const char* file, int line, const char* call, int status) {
  throw_error(file, line, call,
              fmt::format("cuBLAS error {}: {}", status,
                          cublasGetStatusString(static_cast<cublasStatus_t>(status))));
}

void throw_cudnn_error(const char* file, int line, const char* call, int status) {
#if defined(KESTREL_HAVE_CUDNN)
  // cuDNN 9 keeps a sentence on what went wrong besides the bare status; it saves a rerun.
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof(detail));
  throw_error(file, line, call,
              fmt::format("cuDNN error {}: {}{}{}", status,
                          cudnnGetErrorString(static_cast<cudnnStatus_t>(status)),
                          detail[0] != '\0' ? " (" : "",
                          detail[0] != '\0' ? std::string(detail) + ")" : std::string()));
#else
  throw_error(file, line, call, fmt::format("cuDNN error {}", status));
#endif
}

}  // namespace kestrel::detail
