#pragma once
// IDX files, the format of MNIST and Fashion-MNIST: a big-endian magic 0x000008DD (unsigned
// bytes, DD dimensions), DD big-endian u32 sizes, then the bytes row-major. Images are
// 0x00000803 (N, rows, cols), labels 0x00000801 (N). Files may be raw or gzip-compressed.
//
// Every problem (missing file, wrong magic, truncation, trailing bytes, absurd sizes, labels
// out of range) throws kestrel::Error whose message starts with the file name, and sizes are
// checked before anything is allocated: a corrupt header cannot ask for gigabytes.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;
// Limits that no real IDX file comes near (MNIST: 47 M pixels, 784 per image).
inline constexpr uint64_t kIdxMaxElements = uint64_t{1} << 31;
inline constexpr uint64_t kIdxMaxImagePixels = uint64_t{1} << 20;

struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> pixels;  // count * rows * cols bytes, image after image, row-major
};

// Parses IDX content (raw or gzip) from memory; `name` starts every error message.
IdxImages parse_idx_images(std::span<const uint8_t> bytes, std::string_view name);
// Labels, each checked to lie in [0, classes).
std::vector<int32_t> parse_idx_labels(std::span<const uint8_t> bytes, std::string_view name,
                                      int classes);

// The same from a file (raw or gzip, detected by its first bytes); errors name the path.
IdxImages read_idx_images(const std::string& path);
std::vector<int32_t> read_idx_labels(const std::string& path, int classes);

}  // namespace kestrel::data
