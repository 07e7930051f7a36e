#include "kernels/cpu/copy_rows.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

namespace {

// Long rows are copied in pieces of this many elements (64 KiB), so that a batch of one image
// still spreads over the cores; the pieces depend on the row length alone.
constexpr int64_t kPiece = int64_t{1} << 14;

}  // namespace

void copy_row_slices(const kernels::CopyRowSlices& c, int64_t rows) {
  if (rows <= 0 || c.slice <= 0) return;
  const int64_t pieces = (c.slice + kPiece - 1) / kPiece;
  parallel_for(
      rows * pieces,
      [&](int64_t i) {
        const int64_t n = i / pieces, begin = (i - n * pieces) * kPiece;
        const int64_t count = std::min(kPiece, c.slice - begin);
        std::memcpy(c.dst + n * c.dst_row + c.dst_offset + begin,
                    c.src + n * c.src_row + c.src_offset + begin,
                    static_cast<size_t>(count) * sizeof(float));
      },
      rows * c.slice);
}

}  // namespace kestrel::cpu
