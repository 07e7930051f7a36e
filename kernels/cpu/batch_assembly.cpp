#include "kernels/cpu/batch_assembly.hpp"

#include <algorithm>

#include "kernels/cpu/parallel.hpp"

namespace kestrel::cpu {

void assemble_batch(const kernels::BatchGeometry& g, const kernels::ChannelNormalization& norm,
                    const uint8_t* images, const int32_t* indices, const int32_t* crop_flip,
                    int64_t batch, float* out) {
  float table[kernels::kMaxBatchChannels][256];
  for (int c = 0; c < g.channels; ++c)
    for (uint32_t byte = 0; byte < 256; ++byte)
      table[c][byte] = kernels::normalize_byte(byte, norm, c);

  const int64_t in_plane = static_cast<int64_t>(g.height) * g.width;
  const int64_t out_plane = static_cast<int64_t>(g.out_height) * g.out_width;
  const bool reflect = g.pad_mode == kernels::PadMode::Reflect;
  // One (batch row, channel) plane per iteration.
  parallel_for(
      batch * g.channels,
      [&](int64_t plane) {
        const int64_t b = plane / g.channels, c = plane % g.channels;
        const int64_t s = indices[b];
        const kernels::CropFlip crop = kernels::crop_flip_of(g, crop_flip, s);
        const float* lookup = table[c];
        const uint8_t* src = images + (s * g.channels + c) * in_plane;
        float* dst = out + plane * out_plane;
        // Output columns [x_begin, x_end) read source columns inside the image; the rest padding
        // (with reflect padding, rows outside the image are reflected in and never padding).
        const int x_shift = crop.dx - g.padding;
        const int x_begin = std::clamp(-x_shift, 0, g.out_width);
        const int x_end = std::clamp(g.width - x_shift, x_begin, g.out_width);
        for (int oh = 0; oh < g.out_height; ++oh, dst += g.out_width) {
          int y = oh + crop.dy - g.padding;
          if (reflect) y = static_cast<int>(kernels::reflect_index(y, g.height));
          if (y < 0 || y >= g.height) {
            std::fill(dst, dst + g.out_width, lookup[0]);
            continue;
          }
          // Crop column q reads source column q + x_shift and lands in output column q, or OW-1-q
          // when flipped.
          const uint8_t* row = src + static_cast<int64_t>(y) * g.width;
          const auto put = [&](int q, float v) {
            dst[crop.flip != 0 ? g.out_width - 1 - q : q] = v;
          };
          // A padding column: byte 0, or the source column mirrored about the edge.
          const auto border = [&](int q) {
            return reflect ? lookup[row[kernels::reflect_index(q + x_shift, g.width)]] : lookup[0];
          };
          for (int q = 0; q < x_begin; ++q) put(q, border(q));
          if (crop.flip != 0) {
            for (int q = x_begin; q < x_end; ++q)
              dst[g.out_width - 1 - q] = lookup[row[q + x_shift]];
          } else {
            for (int q = x_begin; q < x_end; ++q) dst[q] = lookup[row[q + x_shift]];
          }
          for (int q = x_end; q < g.out_width; ++q) put(q, border(q));
        }
      },
      batch * g.channels * out_plane);
}

}  // namespace kestrel::cpu
