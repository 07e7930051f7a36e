#include "kernels/cuda/check.hpp"

#include <fmt/format.h>

namespace kestrel::detail {

void throw_cuda_error(const char* file, int line, const char* call, int status) {
  const auto e = static_cast<cudaError_t>(status);
  throw_error(
      file, line, call,
      fmt::format("CUDA error {} ({}): {}", cudaGetErrorName(e), status, cudaGetErrorString(e)));
}

}  // namespace kestrel::detail
