#pragma once
// Test images as PNG data URIs, so that the report's gallery of misclassified images lives in
// the HTML file itself. Images are enlarged by whole pixels (nearest neighbour): a 28x28 digit
// at 3x is 84x84 and stays crisp, where browser smoothing would blur it.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace kestrel::report {

// Encodes one 8-bit image given planar (C, H, W) as a PNG: grey for 1 channel, RGB for 3,
// each pixel repeated `scale` times in both directions. Throws kestrel::Error for another
// channel count, a non-positive size or scale, or a failure inside libpng.
std::vector<uint8_t> encode_png(const uint8_t* chw, int channels, int height, int width,
                                int scale = 1);

// Standard base64 (RFC 4648) with padding.
std::string base64_encode(std::span<const uint8_t> bytes);

// "data:image/png;base64,..." of encode_png(...).
std::string png_data_uri(const uint8_t* chw, int channels, int height, int width, int scale = 1);

}  // namespace kestrel::report
