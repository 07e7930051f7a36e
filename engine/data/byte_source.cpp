#include "engine/data/byte_source.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "kernels/common/error.hpp"

namespace kestrel::data {
namespace {

constexpr size_t kInputChunk = size_t{1} << 16;
// A gzip source of unknown length grows its output by at most this much at a time, so a
// header that promises gigabytes costs memory only as fast as the data really arrives.
constexpr size_t kGrowChunk = size_t{1} << 24;

class MemorySource final : public ByteSource {
 public:
  MemorySource(std::span<const uint8_t> bytes, std::string name)
      : ByteSource(std::move(name)), bytes_(bytes) {}

  size_t read(uint8_t* dst, size_t n) override {
    const size_t count = std::min(n, bytes_.size() - offset_);
    if (count > 0) std::memcpy(dst, bytes_.data() + offset_, count);
    offset_ += count;
    return count;
  }
  std::optional<uint64_t> total_size() const override { return bytes_.size(); }
  uint64_t position() const override { return offset_; }

 private:
  std::span<const uint8_t> bytes_;
  size_t offset_ = 0;
};

class FileSource final : public ByteSource {
 public:
  FileSource(std::FILE* file, uint64_t size, std::string name)
      : ByteSource(std::move(name)), file_(file), size_(size) {}
  ~FileSource() override { std::fclose(file_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  size_t read(uint8_t* dst, size_t n) override {
    const size_t count = std::fread(dst, 1, n, file_);
    if (count < n && std::ferror(file_)) {
      KESTREL_FAIL("{}: read error after {} bytes: {}", name(), with_thousands(offset_ + count),
                   std::strerror(errno));
    }
    offset_ += count;
    return count;
  }
  std::optional<uint64_t> total_size() const override { return size_; }
  uint64_t position() const override { return offset_; }

  void rewind() {
    KESTREL_CHECK(std::fseek(file_, 0, SEEK_SET) == 0, "{}: cannot seek: {}", name(),
                  std::strerror(errno));
    offset_ = 0;
  }

 private:
  std::FILE* file_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

// Inflates a gzip stream (one or more members, as gzip itself writes them) from another source.
class GzipSource final : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<ByteSource> input)
      : ByteSource(input->name()), input_(std::move(input)), buffer_(kInputChunk) {
    std::memset(&stream_, 0, sizeof(stream_));
    // 16 + MAX_WBITS: expect a gzip header and check its CRC and length trailer.
    const int status = inflateInit2(&stream_, 16 + MAX_WBITS);
    KESTREL_CHECK(status == Z_OK, "{}: cannot start gzip decompression (zlib error {})", name(),
                  status);
  }
  ~GzipSource() override { inflateEnd(&stream_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  size_t read(uint8_t* dst, size_t n) override {
    n = std::min<size_t>(n, UINT_MAX);
    stream_.next_out = dst;
    stream_.avail_out = static_cast<uInt>(n);
    while (stream_.avail_out > 0 && !finished_) {
      if (stream_.avail_in == 0 && !refill()) {
        KESTREL_CHECK(!inside_member_,
                      "{}: gzip data ends early after {} decompressed bytes (truncated file?)",
                      name(), with_thousands(produced_ + (n - stream_.avail_out)));
        finished_ = true;
        break;
      }
      inside_member_ = true;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      if (status == Z_STREAM_END) {
        // Another member may follow; anything else after it fails inflate's header check.
        inside_member_ = false;
        inflateReset(&stream_);
      } else if (status != Z_OK) {
        KESTREL_FAIL("{}: corrupt gzip data after {} decompressed bytes: {}", name(),
                     with_thousands(produced_ + (n - stream_.avail_out)),
                     stream_.msg != nullptr ? stream_.msg : zError(status));
      }
    }
    const size_t count = n - stream_.avail_out;
    produced_ += count;
    return count;
  }
  std::optional<uint64_t> total_size() const override { return std::nullopt; }
  uint64_t position() const override { return produced_; }
  bool compressed() const override { return true; }

 private:
  bool refill() {
    const size_t count = input_->read(buffer_.data(), buffer_.size());
    stream_.next_in = buffer_.data();
    stream_.avail_in = static_cast<uInt>(count);
    return count > 0;
  }

  std::unique_ptr<ByteSource> input_;
  std::vector<uint8_t> buffer_;
  z_stream stream_;
  uint64_t produced_ = 0;
  bool inside_member_ = false;
  bool finished_ = false;
};

bool starts_with_gzip_magic(const uint8_t* bytes, size_t n) {
  return n >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::string compression_note(const ByteSource& source) {
  return source.compressed() ? " after gzip decompression" : "";
}

}  // namespace

size_t ByteSource::read_fully(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t count = read(dst + done, n - done);
    if (count == 0) break;
    done += count;
  }
  return done;
}

uint64_t ByteSource::count_remaining() {
  if (const auto total = total_size()) return *total - position();
  std::vector<uint8_t> scratch(kInputChunk);
  uint64_t count = 0;
  while (const size_t n = read(scratch.data(), scratch.size())) count += n;
  return count;
}

std::unique_ptr<ByteSource> open_memory_source(std::span<const uint8_t> bytes, std::string name) {
  auto source = std::make_unique<MemorySource>(bytes, std::move(name));
  if (starts_with_gzip_magic(bytes.data(), bytes.size())) {
    return std::make_unique<GzipSource>(std::move(source));
  }
  return source;
}

uint64_t regular_file_size(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  KESTREL_CHECK(fs::exists(status), "{}: no such file", path);
  KESTREL_CHECK(fs::is_regular_file(status), "{}: not a regular file", path);
  const uint64_t size = fs::file_size(path, error);
  KESTREL_CHECK(!error, "{}: cannot read its size: {}", path, error.message());
  return size;
}

namespace {
std::unique_ptr<FileSource> open_raw_file(const std::string& path) {
  const uint64_t size = regular_file_size(path);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  KESTREL_CHECK(file != nullptr, "{}: cannot open: {}", path, std::strerror(errno));
  return std::make_unique<FileSource>(file, size, path);
}
}  // namespace

std::vector<uint8_t> read_raw_file(const std::string& path) {
  const auto source = open_raw_file(path);
  std::vector<uint8_t> bytes;
  read_exact(*source, *source->total_size(), "the whole file", bytes);
  return bytes;
}

std::unique_ptr<ByteSource> open_file_source(const std::string& path) {
  auto source = open_raw_file(path);
  uint8_t magic[2] = {0, 0};
  const size_t peeked = source->read_fully(magic, sizeof(magic));
  source->rewind();
  if (starts_with_gzip_magic(magic, peeked)) return std::make_unique<GzipSource>(std::move(source));
  return source;
}

void read_prefix(ByteSource& source, size_t n, std::string_view what, uint8_t* out) {
  const uint64_t begin = source.position();
  const size_t count = source.read_fully(out, n);
  KESTREL_CHECK(begin + count > 0, "{}: empty file, expected {}", source.name(), what);
  KESTREL_CHECK(count == n, "{}: truncated at byte {} of {}{} ({})", source.name(),
                with_thousands(begin + count), with_thousands(begin + n), compression_note(source),
                what);
}

void read_exact(ByteSource& source, uint64_t expected_total, std::string_view what,
                std::vector<uint8_t>& out) {
  const uint64_t begin = source.position();
  KESTREL_CHECK(begin <= expected_total, "{}: read_exact: already at byte {}, past {}",
                source.name(), begin, expected_total);
  const auto truncated = [&](uint64_t available) {
    KESTREL_FAIL("{}: truncated at byte {} of {}{} ({})", source.name(),
                 with_thousands(available), with_thousands(expected_total),
                 compression_note(source), what);
  };
  const auto check_no_extra = [&](uint64_t extra) {
    KESTREL_CHECK(extra == 0, "{}: {} bytes{}, expected {} ({} extra bytes after {})",
                  source.name(), with_thousands(expected_total + extra), compression_note(source),
                  with_thousands(expected_total), with_thousands(extra), what);
  };

  if (const auto total = source.total_size()) {
    if (*total < expected_total) truncated(*total);
    check_no_extra(*total - expected_total);
  }
  const uint64_t wanted = expected_total - begin;
  out.clear();
  if (source.total_size()) out.reserve(static_cast<size_t>(wanted));
  while (out.size() < wanted) {
    const size_t done = out.size();
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(kGrowChunk, wanted - done));
    out.resize(done + chunk);
    const size_t count = source.read_fully(out.data() + done, chunk);
    if (count < chunk) truncated(begin + done + count);
  }
  if (!source.total_size()) check_no_extra(source.count_remaining());
}

std::string with_thousands(uint64_t value) {
  const std::string digits = std::to_string(value);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

}  // namespace kestrel::data
