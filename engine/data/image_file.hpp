#pragma once
// A user's image file (PNG or JPEG, any size) read into memory and turned into a model's input,
// the way `kestrel predict` sees it.
//
// Reading (read_image): the format comes from the file's first bytes, never its name. Every
// image becomes 8-bit gray (1 channel) or 8-bit RGB (3 channels):
//   PNG   any bit depth and colour type: palettes expand to RGB, 1/2/4-bit gray to 8-bit,
//         16-bit samples scale to 8-bit with rounding (round(v * 255 / 65535)), interlaced
//         files de-interlace. Alpha (an alpha channel or a tRNS chunk) is composited over black,
//         round(v * a / 255): a transparent pixel becomes black, MNIST's background. No gamma
//         or colour-profile correction.
//   JPEG  baseline or progressive (libjpeg-turbo): gray stays gray, YCbCr becomes RGB, CMYK and
//         YCCK become RGB as r = c * k / 255 on Adobe's inverted samples. EXIF orientation is
//         not applied. A corrupt or truncated stream is an error, not a partly gray image.
// Each side must be at most kMaxImageSide pixels. Every failure (missing or unreadable file,
// not a PNG or JPEG, corrupt or truncated data, absurd dimensions) throws kestrel::Error whose
// message names the file.
//
// Model input (to_model_input), in this order:
//   1. colour: RGB -> gray by ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B (PIL's convert("L")
//      without its rounding); gray -> RGB by copying the one channel to all three.
//   2. size: stretched to the model's H x W (no crop, no letterbox), each axis on its own:
//        enlarging  bilinear with align_corners=False, the source position clamped at the edges
//                   (torch.nn.functional.interpolate(mode="bilinear") exactly);
//        shrinking  area averaging: an output pixel is the mean of the source area it covers,
//                   pixels partly inside weighted by the covered fraction (OpenCV's INTER_AREA;
//                   torch's mode="area" for integer factors). Plain bilinear would sample four
//                   pixels per output and alias a large photo's thin strokes away.
//        same size  the pixels unchanged.
//      Values stay in floating point (no rounding back to bytes between the steps).
//   3. normalisation: x = (v / 255 - mean[c]) / std[c] in f32, the float order of the training
//      loader (kernels/common/batch_assembly.hpp), so an image of the training set's size gives
//      bit for bit the input the model saw in evaluation.
//
// Decoding lives in image_file.cpp, to_model_input in model_input.cpp (the image fuzz target
// compiles the decoder alone).
//
// MNIST and Fashion-MNIST images are light on a dark background: a dark digit on white paper
// should be inverted first (invert_image; `kestrel predict --invert`).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/normalization.hpp"
#include "engine/tensor/tensor.hpp"

namespace kestrel::data {

// The largest width or height read_image accepts.
inline constexpr int64_t kMaxImageSide = 16384;

struct Image {
  int64_t width = 0, height = 0;
  int64_t channels = 0;         // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height rows of width pixels, channels bytes each (interleaved)

  uint8_t at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
};

// Decodes a PNG or JPEG file (see above).
Image read_image(const std::string& path);

// Replaces every sample v by 255 - v (dark-on-light to light-on-dark).
void invert_image(Image& image);

// The image as a model input: host f32 [1, channels, height, width], converted, resized and
// normalised as described above. `channels` is 1 or 3; `norm` has one mean and std, or one per
// channel, each std positive. Throws kestrel::Error for anything else.
Tensor to_model_input(const Image& image, int64_t channels, int64_t height, int64_t width,
                      const Normalization& norm);

}  // namespace kestrel::data
