#pragma once
// The per-element parts of a fully connected layer; the matrix products themselves are GEMMs
// (kernels/cpu/gemm.hpp, cuBLAS on the GPU).
#include <cstdint>

#include "kernels/common/hd.hpp"

namespace kestrel::kernels {

// y[r, j] = bias[j]: fills the output with bias rows so that the GEMM can add x w^T on top
// (beta = 1). One output element per call.
struct BroadcastBiasRows {
  const float* bias;
  float* y;
  int64_t cols;
  KESTREL_HD void operator()(int64_t i) const { y[i] = bias[i % cols]; }
};

// db[j] = sum over rows r of dy[r, j], rows added in order 0, 1, ...: one call per column, so
// the sum is the same whatever runs the columns.
struct ColumnSums {
  const float* dy;
  float* db;
  int64_t rows;
  int64_t cols;
  KESTREL_HD void operator()(int64_t j) const {
    float sum = 0.0f;
    for (int64_t r = 0; r < rows; ++r) sum += dy[r * cols + j];
    db[j] = sum;
  }
};

}  // namespace kestrel::kernels
