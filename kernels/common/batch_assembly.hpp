#pragma once
// Batch assembly: u8 images [N, C, H, W] held on the training device become one f32 batch
// [B, C, OH, OW] (gather by dataset index + torchvision's RandomCrop(padding=P) +
// RandomHorizontalFlip(0.5) + ToTensor + Normalize), one output element per call.
//
// Randomness: sample s (its dataset index) in an epoch draws one Philox block
// w = philox_block(seed, data_stream(Augment, epoch), s), and
//   dy = (w[0] * (span_y + 1)) >> 32,  dx = (w[1] * (span_x + 1)) >> 32   (64-bit products),
//   flip = w[2] >> 31,
// with span = H + 2P - OH (the crop offsets run over [0, span]; the multiply-shift is uniform to
// within 2^-32 per value). A sample's crop and flip therefore depend on (seed, epoch, s) alone:
// not on the batch size, its position in the batch, the thread count or the device.
// Alternating flips (airbench's, Keller Jordan 2024) replace the flip's coin by the one epoch 0
// draws, c = w0[2] >> 31 with w0 = philox_block(seed, data_stream(Augment, 0), s), and flip on
// epoch e iff c XOR (e odd): every image is seen both ways in every pair of epochs.
//
// Geometry (torchvision order): pad the image by P on every side, take the OH x OW window at
// (dy, dx), then mirror it left-right when flip is set. Zero padding: padded pixels are byte 0,
// so they normalise to (0 - mean) / std as in torchvision, where padding happens on the PIL
// image. Reflect padding (RandomCrop(padding_mode='reflect'), airbench's): padded pixel (y, x)
// is source pixel (reflect(y - P), reflect(x - P)), reflect(-1) = 1 and reflect(H) = H - 2
// (kernels/common/reflect.hpp); P < H and P < W, as for F.pad.
//
// Normalisation, in this float order (torchvision's ToTensor then Normalize, bit for bit):
//   unit = float(byte) / 255.0f;  x = (unit - mean[c]) / std[c]
// Two IEEE divisions and one subtraction, no multiply to contract into an FMA, so the host and
// nvcc (without --use_fast_math) give the same bits.
#include <cstdint>

#include "kernels/common/data_streams.hpp"
#include "kernels/common/hd.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/common/reflect.hpp"

namespace kestrel::kernels {

inline constexpr int kMaxBatchChannels = 4;

// What the padding holds: zeros, or the image mirrored about its edge pixels.
enum class PadMode : int32_t { Zero, Reflect };

struct BatchGeometry {
  int32_t channels = 1;
  int32_t height = 1, width = 1;          // source images
  int32_t out_height = 1, out_width = 1;  // output crops (the source size without cropping)
  int32_t padding = 0;                    // added on every side before cropping
  PadMode pad_mode = PadMode::Zero;       // Reflect needs padding < height and < width

  // The largest crop offset: offsets run over [0, span].
  KESTREL_HD int32_t span_y() const { return height + 2 * padding - out_height; }
  KESTREL_HD int32_t span_x() const { return width + 2 * padding - out_width; }
};

// Per-channel mean and std (channels beyond the geometry's are unused).
struct ChannelNormalization {
  float mean[kMaxBatchChannels] = {0.0f, 0.0f, 0.0f, 0.0f};
  float std[kMaxBatchChannels] = {1.0f, 1.0f, 1.0f, 1.0f};
};

// What the augmentation draws for one sample.
struct CropFlip {
  int32_t dy, dx, flip;
};

struct AugmentSpec {
  uint64_t seed = 0;
  uint64_t stream = 0;       // rng::data_stream(DataPurpose::Augment, epoch)
  bool random_crop = false;  // false: the centred window (span / 2), i.e. no crop when span = 0
  bool hflip = false;
  bool alternate_flip = false;  // with hflip: the epoch-0 coin, inverted on odd epochs
  int64_t epoch = 0;            // read by alternate_flip only
};

// Uniform integer in [0, n) from 32 random bits (multiply-shift).
KESTREL_HD_INLINE int32_t uniform_below(uint32_t bits, uint32_t n) {
  return static_cast<int32_t>((static_cast<uint64_t>(bits) * n) >> 32);
}

KESTREL_HD_INLINE CropFlip draw_crop_flip(const AugmentSpec& a, const BatchGeometry& g,
                                          int64_t sample) {
  const rng::Bits4 w = rng::philox_block(a.seed, a.stream, static_cast<uint64_t>(sample));
  CropFlip c;
  c.dy = a.random_crop ? uniform_below(w.v[0], static_cast<uint32_t>(g.span_y()) + 1u)
                       : g.span_y() / 2;
  c.dx = a.random_crop ? uniform_below(w.v[1], static_cast<uint32_t>(g.span_x()) + 1u)
                       : g.span_x() / 2;
  c.flip = 0;
  if (a.hflip && !a.alternate_flip) {
    c.flip = static_cast<int32_t>(w.v[2] >> 31);
  } else if (a.hflip) {
    // The coin depends on (seed, sample) only: epoch 0's, so epoch 0 flips as without alternation.
    const rng::Bits4 w0 = rng::philox_block(a.seed, rng::data_stream(rng::DataPurpose::Augment, 0),
                                            static_cast<uint64_t>(sample));
    c.flip = static_cast<int32_t>(w0.v[2] >> 31) ^ static_cast<int32_t>(a.epoch & 1);
  }
  return c;
}

// crop_flip[3 s + {0, 1, 2}] = (dy, dx, flip) of dataset sample s, for every s in [0, N): one
// Philox block per sample and epoch (two with alternating flips), drawn once and read by every
// element of that sample.
struct DrawCropFlip {
  AugmentSpec spec;
  BatchGeometry geometry;
  int32_t* crop_flip;  // [N, 3]

  KESTREL_HD void operator()(int64_t s) const {
    const CropFlip c = draw_crop_flip(spec, geometry, s);
    crop_flip[3 * s + 0] = c.dy;
    crop_flip[3 * s + 1] = c.dx;
    crop_flip[3 * s + 2] = c.flip;
  }
};

// Sample s's crop offsets and flip: drawn by DrawCropFlip, or without crop_flip (no
// augmentation) the centred window, unflipped.
KESTREL_HD_INLINE CropFlip crop_flip_of(const BatchGeometry& g, const int32_t* crop_flip,
                                        int64_t s) {
  if (crop_flip == nullptr) return CropFlip{g.span_y() / 2, g.span_x() / 2, 0};
  return CropFlip{crop_flip[3 * s + 0], crop_flip[3 * s + 1], crop_flip[3 * s + 2]};
}

// ToTensor then Normalize for one byte of channel c.
KESTREL_HD_INLINE float normalize_byte(uint32_t byte, const ChannelNormalization& norm,
                                       int64_t c) {
  const float unit = static_cast<float>(byte) / 255.0f;
  return (unit - norm.mean[c]) / norm.std[c];
}

// out[b, c, oh, ow] for batch row b holding dataset sample indices[b].
struct AssembleBatch {
  BatchGeometry g;
  ChannelNormalization norm;
  const uint8_t* images;     // [N, C, H, W]
  const int32_t* indices;    // [B] dataset index of each batch row
  const int32_t* crop_flip;  // [N, 3] from DrawCropFlip, or nullptr: centred window, no flip
  float* out;                // [B, C, OH, OW]

  KESTREL_HD void operator()(int64_t i) const {
    const int64_t ow = i % g.out_width;
    int64_t rest = i / g.out_width;
    const int64_t oh = rest % g.out_height;
    rest /= g.out_height;
    const int64_t c = rest % g.channels;
    const int64_t b = rest / g.channels;
    const int64_t s = indices[b];
    const CropFlip crop = crop_flip_of(g, crop_flip, s);
    // Output (oh, ow) of the flipped crop is crop column OW-1-ow; crop (r, q) is padded pixel
    // (r + dy, q + dx), i.e. source pixel (r + dy - P, q + dx - P), reflected into the image
    // when the padding reflects.
    const int64_t col = crop.flip != 0 ? g.out_width - 1 - ow : ow;
    int64_t y = oh + crop.dy - g.padding, x = col + crop.dx - g.padding;
    if (g.pad_mode == PadMode::Reflect) {
      y = reflect_index(y, g.height);
      x = reflect_index(x, g.width);
    }
    uint32_t byte = 0;
    if (y >= 0 && y < g.height && x >= 0 && x < g.width)
      byte = images[((s * g.channels + c) * g.height + y) * g.width + x];
    out[i] = normalize_byte(byte, norm, c);
  }
};

// labels_out[b] = labels[indices[b]].
struct GatherLabels {
  const int32_t* labels;   // [N]
  const int32_t* indices;  // [B]
  int32_t* out;            // [B]

  KESTREL_HD void operator()(int64_t b) const { out[b] = labels[indices[b]]; }
};

}  // namespace kestrel::kernels
