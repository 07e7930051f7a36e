#pragma once
// Small data files for the reader tests: a temporary folder that removes itself, IDX and
// CIFAR-record byte builders, and gzip writers (zlib's gzopen, as `gzip` users produce them).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/common/error.hpp"

namespace kestrel::test {

// A fresh folder under the system's temp directory, deleted with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() /
            ("kestrel-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

using Bytes = std::vector<uint8_t>;

inline void append_big_endian_u32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

inline Bytes idx_header(uint32_t magic, std::initializer_list<uint32_t> dims) {
  Bytes out;
  append_big_endian_u32(out, magic);
  for (uint32_t d : dims) append_big_endian_u32(out, d);
  return out;
}

inline Bytes idx_images_file(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels) {
  Bytes out = idx_header(0x00000803, {count, rows, cols});
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

inline Bytes idx_labels_file(const Bytes& labels) {
  Bytes out = idx_header(0x00000801, {static_cast<uint32_t>(labels.size())});
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

inline Bytes random_bytes(size_t n, std::mt19937_64& gen, int max_value = 255) {
  std::uniform_int_distribution<int> dist(0, max_value);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(dist(gen));
  return out;
}

inline void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes `bytes` gzip-compressed with zlib's gzip writer.
inline void write_gzip_file(const std::string& path, std::span<const uint8_t> bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

// The same gzip bytes in memory (through a file, so they are exactly what gzopen writes).
inline Bytes gzip_bytes(std::span<const uint8_t> bytes) {
  TempDir dir;
  write_gzip_file(dir.file("data.gz"), bytes);
  return read_file(dir.file("data.gz"));
}

// One CIFAR record per label: the label byte, then the image's 3072 bytes.
inline Bytes cifar_records(const Bytes& labels, const Bytes& images) {
  Bytes out;
  for (size_t i = 0; i < labels.size(); ++i) {
    out.push_back(labels[i]);
    out.insert(out.end(), images.begin() + static_cast<std::ptrdiff_t>(i * 3072),
               images.begin() + static_cast<std::ptrdiff_t>((i + 1) * 3072));
  }
  return out;
}

// The message of the kestrel::Error that `f` throws ("" and a test failure if none).
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "expected kestrel::Error";
  return {};
}

}  // namespace kestrel::test
