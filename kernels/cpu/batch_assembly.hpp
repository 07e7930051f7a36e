#pragma once
// Batch assembly on the host: AssembleBatch's results (kernels/common/batch_assembly.hpp), row
// by row. A byte's normalised value depends on its channel and value alone, so each call first
// tabulates normalize_byte for the 256 values of every channel (the functor's arithmetic) and
// then copies rows through the table: no per-element index divisions or float divisions.
#include <cstdint>

#include "kernels/common/batch_assembly.hpp"

namespace kestrel::cpu {

// out [batch, C, OH, OW] for the samples indices[0, batch); crop_flip as for AssembleBatch.
void assemble_batch(const kernels::BatchGeometry& g, const kernels::ChannelNormalization& norm,
                    const uint8_t* images, const int32_t* indices, const int32_t* crop_flip,
                    int64_t batch, float* out);

}  // namespace kestrel::cpu
