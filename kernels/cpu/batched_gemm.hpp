#pragma once
// kernels::BatchedGemm on the CPU: each product is one kestrel::cpu GEMM. Four or more products
// run in parallel, one whole product per thread (gemm_serial); fewer are each tiled over the
// threads (gemm). Which of the two runs depends on the batch size alone, and no two threads
// write one element, so the bits do not depend on the thread count.
#include "kernels/common/batched_gemm.hpp"

namespace kestrel::cpu {

void batched_gemm(const kernels::BatchedGemm& g, const float* a, const float* b, float* c);

}  // namespace kestrel::cpu
