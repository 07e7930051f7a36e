#pragma once
// The host's launch of kernels::CopyRowSlices (a channel concatenation's copies, forward and
// backward): one memcpy per row, or per piece of a long row. The element launch would divide
// every index by the slice length, which cannot vectorise and made DenseNet-121's concatenations
// cost nearly half as much as its convolutions (11.5% against 26.7% of a profile). A copy, so
// the bits never depend on the thread count.
#include <cstdint>

#include "kernels/common/concat.hpp"

namespace kestrel::cpu {

// What CopyRowSlices{c}(i) does for every i in [0, rows * c.slice).
void copy_row_slices(const kernels::CopyRowSlices& c, int64_t rows);

}  // namespace kestrel::cpu
