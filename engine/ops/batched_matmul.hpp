#pragma once
// batched_matmul: a two-level batch of row-major products on the context's device
// (kernels/common/batched_gemm.hpp says how the matrices are addressed). The CPU runs
// kestrel::cpu GEMMs (kernels/cpu/batched_gemm.hpp: bits independent of the thread count); a GPU
// runs cublasGemmStridedBatchedEx per outer index, in f32 (TF32 under MathOptions::tf32).
// MathOptions::bf16 does not apply: the operands stay f32 on both devices.
#include "engine/runtime/context.hpp"
#include "kernels/common/batched_gemm.hpp"

namespace kestrel::ops {

// a, b and c point into tensors on ctx's device; c must not overlap a or b. Throws
// kestrel::Error for negative sizes or a leading dimension shorter than its matrix's rows.
void batched_matmul(const Context& ctx, const kernels::BatchedGemm& g, const float* a,
                    const float* b, float* c);

}  // namespace kestrel::ops
