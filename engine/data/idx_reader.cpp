#include "engine/data/idx_reader.hpp"

#include <fmt/format.h>

#include "engine/data/byte_source.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {
namespace {

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

std::string_view idx_kind(uint32_t magic) {
  return magic == kIdxImagesMagic ? "IDX image file" : "IDX label file";
}

// Reads the magic and the sizes, checking the magic (which also fixes the dimension count).
std::vector<uint64_t> read_idx_header(ByteSource& source, uint32_t expected_magic) {
  const int ndim = static_cast<int>(expected_magic & 0xffu);
  const int header_bytes = 4 + 4 * ndim;
  const std::string what =
      fmt::format("an {} (magic 0x{:08X}) with {} {}-byte header", idx_kind(expected_magic),
                  expected_magic, header_bytes == 8 ? "an" : "a", header_bytes);
  uint8_t header[4 + 4 * 3];
  read_prefix(source, 4, what, header);
  const uint32_t magic = big_endian_u32(header);
  if (magic != expected_magic) {
    const bool other_idx = magic == kIdxImagesMagic || magic == kIdxLabelsMagic;
    KESTREL_FAIL("{}: magic 0x{:08X}, expected 0x{:08X} ({}){}", source.name(), magic,
                 expected_magic, idx_kind(expected_magic),
                 other_idx ? fmt::format(": this is an {}", idx_kind(magic))
                           : (magic >> 16) != 0 ? ": not an IDX file" : "");
  }
  read_prefix(source, static_cast<size_t>(4 * ndim), what, header + 4);
  std::vector<uint64_t> dims(static_cast<size_t>(ndim));
  for (int d = 0; d < ndim; ++d) dims[static_cast<size_t>(d)] = big_endian_u32(header + 4 + 4 * d);
  return dims;
}

IdxImages read_images(ByteSource& source) {
  const std::vector<uint64_t> dims = read_idx_header(source, kIdxImagesMagic);
  const uint64_t count = dims[0], rows = dims[1], cols = dims[2];
  KESTREL_CHECK(count > 0 && rows > 0 && cols > 0, "{}: header says {} images of {} x {}",
                source.name(), with_thousands(count), rows, cols);
  // Each size is below 2^32, so rows * cols fits in 64 bits, and after the first check
  // count * pixels (below 2^52) does too.
  const uint64_t pixels = rows * cols;
  KESTREL_CHECK(pixels <= kIdxMaxImagePixels,
                "{}: images of {} x {} pixels exceed the limit of {} pixels per image "
                "(corrupt header?)",
                source.name(), with_thousands(rows), with_thousands(cols),
                with_thousands(kIdxMaxImagePixels));
  KESTREL_CHECK(count * pixels <= kIdxMaxElements,
                "{}: {} images of {} x {} make {} bytes, over the limit of {} (corrupt header?)",
                source.name(), with_thousands(count), rows, cols, with_thousands(count * pixels),
                with_thousands(kIdxMaxElements));

  IdxImages images;
  images.count = static_cast<int64_t>(count);
  images.rows = static_cast<int64_t>(rows);
  images.cols = static_cast<int64_t>(cols);
  read_exact(source, 16 + count * pixels,
             fmt::format("a 16-byte header and {} images of {} x {}", with_thousands(count), rows,
                         cols),
             images.pixels);
  return images;
}

std::vector<int32_t> read_labels(ByteSource& source, int classes) {
  KESTREL_CHECK(classes > 0, "{}: labels need a positive class count, got {}", source.name(),
                classes);
  const uint64_t count = read_idx_header(source, kIdxLabelsMagic)[0];
  KESTREL_CHECK(count > 0, "{}: header says 0 labels", source.name());
  KESTREL_CHECK(count <= kIdxMaxElements, "{}: {} labels, over the limit of {} (corrupt header?)",
                source.name(), with_thousands(count), with_thousands(kIdxMaxElements));
  std::vector<uint8_t> bytes;
  read_exact(source, 8 + count,
             fmt::format("an 8-byte header and {} labels", with_thousands(count)), bytes);

  std::vector<int32_t> labels(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    KESTREL_CHECK(bytes[i] < classes, "{}: label {} at index {} is outside [0, {})",
                  source.name(), bytes[i], with_thousands(i), classes);
    labels[i] = bytes[i];
  }
  return labels;
}

}  // namespace

IdxImages parse_idx_images(std::span<const uint8_t> bytes, std::string_view name) {
  const auto source = open_memory_source(bytes, std::string(name));
  return read_images(*source);
}

std::vector<int32_t> parse_idx_labels(std::span<const uint8_t> bytes, std::string_view name,
                                      int classes) {
  const auto source = open_memory_source(bytes, std::string(name));
  return read_labels(*source, classes);
}

IdxImages read_idx_images(const std::string& path) {
  const auto source = open_file_source(path);
  return read_images(*source);
}

std::vector<int32_t> read_idx_labels(const std::string& path, int classes) {
  const auto source = open_file_source(path);
  return read_labels(*source, classes);
}

}  // namespace kestrel::data
