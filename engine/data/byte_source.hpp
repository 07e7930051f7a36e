#pragma once
// Sequential byte input for the data-set readers: a file, a memory buffer, or either of those
// gzip-compressed (detected by the magic bytes 1f 8b, never by the file name). The readers
// validate headers before they allocate, so a source says its total size when it knows it
// (raw files, memory) and the gzip source is read in bounded chunks instead.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kestrel::data {

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // Up to n bytes into dst; returns how many were read (fewer only at the end).
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // Total length of the (decompressed) content when known without reading it.
  virtual std::optional<uint64_t> total_size() const = 0;
  // Bytes read so far.
  virtual uint64_t position() const = 0;
  // True when the content is decompressed from gzip (error messages say so).
  virtual bool compressed() const { return false; }

  // The file name or label that every error message starts with.
  const std::string& name() const { return name_; }

  // Reads until `n` bytes or the end; returns how many arrived.
  size_t read_fully(uint8_t* dst, size_t n);
  // Counts the bytes after the current position, reading them if the size is not known.
  uint64_t count_remaining();

 protected:
  explicit ByteSource(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// Bytes already in memory (the fuzzers' entry); gzip content is decompressed as it is read.
// `bytes` must outlive the source.
std::unique_ptr<ByteSource> open_memory_source(std::span<const uint8_t> bytes, std::string name);
// A file on disk, gzip or raw. Throws kestrel::Error naming the path if it cannot be opened.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);

// The size of a regular file; kestrel::Error "<path>: no such file" (or not a regular file).
uint64_t regular_file_size(const std::string& path);
// A whole file as it is on disk (no decompression).
std::vector<uint8_t> read_raw_file(const std::string& path);

// Reads the next `n` bytes (a header) into `out`; fewer -> kestrel::Error "<name>: empty file,
// expected <what>" or "<name>: truncated at byte X of n (<what>)".
void read_prefix(ByteSource& source, size_t n, std::string_view what, uint8_t* out);

// Reads the rest of `source` into `out` (replacing its contents), which must end exactly at
// byte `expected_total` of the source. A source of known size is checked first, so nothing is
// allocated for a file that is too short; a gzip source grows `out` in bounded chunks as data
// arrives. Throws kestrel::Error "<name>: truncated at byte X of Y (<what>)" or
// "<name>: X bytes, expected Y (Z extra bytes after <what>)".
void read_exact(ByteSource& source, uint64_t expected_total, std::string_view what,
                std::vector<uint8_t>& out);

// 47040016 -> "47,040,016": error messages count bytes the way people read them.
std::string with_thousands(uint64_t value);

}  // namespace kestrel::data
