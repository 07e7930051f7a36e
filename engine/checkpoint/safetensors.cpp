#include "engine/checkpoint/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <span>
#include <tuple>

#include "engine/tensor/copy.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::checkpoint {

// The format stores little-endian bytes and kestrel writes and reads memory as it is.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes little-endian");

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kMetadataKey = "__metadata__";

// The reference implementation's dtype order (safetensors' Dtype enum, smallest alignment
// first): its writer sorts tensors by this rank, largest first, and then by name.
int reference_rank(DType dtype) {
  switch (dtype) {
    case DType::U8:
      return 1;
    case DType::F16:
      return 7;
    case DType::BF16:
      return 8;
    case DType::I32:
      return 9;
    case DType::F32:
      return 11;
    case DType::F64:
      return 12;
    case DType::I64:
      return 13;
  }
  return 0;
}

constexpr std::array<DType, 7> kKestrelDTypes = {DType::F32, DType::BF16, DType::F16, DType::I32,
                                                 DType::I64, DType::U8,   DType::F64};

// Dtypes of the spec that kestrel does not hold: named in the error, unlike a misspelling.
constexpr std::array<std::string_view, 13> kOtherSpecDTypes = {
    "BOOL",    "I8",      "U16",     "I16", "U32",     "U64",    "C64",
    "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2"};

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType t : kKestrelDTypes)
    if (safetensors_dtype_name(t) == name) return t;
  return std::nullopt;
}

// 122880 -> "122,880": byte counts in messages are read by people.
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string errno_text(int err) { return std::strerror(err); }

// Untrusted JSON for messages, lists spaced like Shape::str() ("[120, 256]"). Bounded in depth
// and length: a hostile header may nest a million arrays.
std::string shown(const nlohmann::json& j, int depth = 0) {
  if (j.is_object()) return j.empty() ? "{}" : "{...}";
  if (!j.is_array()) {
    std::string text = j.dump();
    return text.size() <= 40 ? text : text.substr(0, 37) + "...";
  }
  if (depth == 2) return j.empty() ? "[]" : "[...]";
  std::string out = "[";
  for (size_t i = 0; i < j.size(); ++i) {
    if (i == 8) {
      out += ", ...";
      break;
    }
    out += (i > 0 ? ", " : "") + shown(j[i], depth + 1);
  }
  return out + "]";
}

// ---- writing ------------------------------------------------------------------------------

struct PlacedTensor {
  const std::string* name;
  const Tensor* tensor;
  uint64_t begin, end;
};

std::string header_bytes(const std::vector<PlacedTensor>& placed,
                         const std::map<std::string, std::string>& metadata,
                         const std::string& path) {
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header[std::string(kMetadataKey)] = std::move(meta);
  }
  for (const PlacedTensor& p : placed) {
    OrderedJson shape = OrderedJson::array();
    for (int d = 0; d < p.tensor->ndim(); ++d) shape.push_back(p.tensor->dim(d));
    OrderedJson info = OrderedJson::object();
    info["dtype"] = std::string(safetensors_dtype_name(p.tensor->dtype()));
    info["shape"] = std::move(shape);
    info["data_offsets"] = OrderedJson::array({p.begin, p.end});
    header[*p.name] = std::move(info);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const OrderedJson::exception& e) {
    // The only failure of dump(): a name or metadata string that is not valid UTF-8.
    KESTREL_FAIL("cannot write {}: a tensor name or metadata string is not valid UTF-8 ({})", path,
                 e.what());
  }
  // The reference pads with spaces so that the data buffer starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_all(int fd, const void* data, size_t bytes, const std::string& temp_path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    KESTREL_CHECK(n > 0, "cannot write {}: {}", temp_path, errno_text(n < 0 ? errno : EIO));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

// A tensor's bytes onto the file: straight from host memory, through a bounded host buffer
// from a GPU.
void write_tensor(int fd, const Tensor& t, const std::string& temp_path) {
  if (t.nbytes() == 0) return;
  if (t.device().is_cpu()) {
    write_all(fd, t.raw_data(), t.nbytes(), temp_path);
    return;
  }
  constexpr size_t kChunk = size_t{64} << 20;
  std::vector<char> staging(std::min(kChunk, t.nbytes()));
  const char* src = static_cast<const char*>(t.raw_data());
  for (size_t done = 0; done < t.nbytes();) {
    const size_t n = std::min(staging.size(), t.nbytes() - done);
    copy_bytes(staging.data(), Device::cpu(), src + done, t.device(), n);
    write_all(fd, staging.data(), n, temp_path);
    done += n;
  }
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The rename is durable only once the directory entry is on disk too.
void sync_directory(const std::string& dir, const std::string& path) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  KESTREL_CHECK(fd >= 0, "wrote {} but cannot open its directory {} to sync it: {}", path, dir,
                errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // EINVAL: a file system that cannot sync directories; the rename is all it offers.
  KESTREL_CHECK(rc == 0 || err == EINVAL, "wrote {} but cannot sync its directory {}: {}", path,
                dir, errno_text(err));
}

// Creates a fresh temporary file beside `path` (same directory, so the rename is atomic).
int create_temp_file(const std::string& path, std::string& temp_path) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0;; ++attempt) {
    temp_path = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    // Another writer's leftover of the same name: take the next number.
    KESTREL_CHECK(errno == EEXIST && attempt < 100, "cannot write {}: cannot create {}: {}", path,
                  temp_path, errno_text(errno));
  }
}

// ---- reading ------------------------------------------------------------------------------

// Where the reader's bytes come from: a file, read piece by piece with pread (a checkpoint is
// never held twice in memory), or a buffer already in memory (the fuzzer's entry). Both know
// their size before anything is read.
class Input {
 public:
  virtual ~Input() = default;
  virtual uint64_t size() const = 0;
  // Exactly `bytes` bytes at `offset`, which the reader has checked against size().
  virtual void read_at(uint64_t offset, void* dst, size_t bytes) const = 0;
};

class File final : public Input {
 public:
  explicit File(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    KESTREL_CHECK(fd_ >= 0, "{}: cannot open: {}", path, errno_text(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      KESTREL_FAIL("{}: not a regular file", path);
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~File() override { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint64_t size() const override { return size_; }

  void read_at(uint64_t offset, void* dst, size_t bytes) const override {
    char* p = static_cast<char*>(dst);
    while (bytes > 0) {
      const ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      KESTREL_CHECK(n >= 0, "{}: read error: {}", path_, errno_text(errno));
      KESTREL_CHECK(n > 0, "{}: the file ended while reading it (was it changed meanwhile?)",
                    path_);
      p += n;
      offset += static_cast<uint64_t>(n);
      bytes -= static_cast<size_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

class Memory final : public Input {
 public:
  explicit Memory(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t size() const override { return bytes_.size(); }

  void read_at(uint64_t offset, void* dst, size_t bytes) const override {
    KESTREL_CHECK(offset <= bytes_.size() && bytes <= bytes_.size() - offset,
                  "internal error: safetensors read of {} bytes at {} past the {}-byte buffer",
                  bytes, offset, bytes_.size());
    if (bytes > 0) std::memcpy(dst, bytes_.data() + offset, bytes);
  }

 private:
  std::span<const uint8_t> bytes_;
};

// Parses the header, refusing duplicate keys in any object: nlohmann keeps the last of a
// duplicate silently, and a header with two entries of one name is ambiguous.
Json parse_header(const std::string& text, const std::string& path) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  const Json::parser_callback_t track_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.back().insert(parsed.get<std::string>()).second && !duplicate)
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, track_keys);
  } catch (const Json::exception& e) {
    KESTREL_FAIL("{}: invalid JSON header: {}", path, e.what());
  }
  KESTREL_CHECK(!duplicate, "{}: the header has the key \"{}\" more than once", path,
                duplicate.value_or(""));
  KESTREL_CHECK(header.is_object(), "{}: the header is a JSON {}, not an object", path,
                header.type_name());
  return header;
}

// A non-negative JSON integer, or nullopt (negative, fractional, too large, not a number).
std::optional<uint64_t> as_count(const Json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0)
    return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

struct HeaderEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

HeaderEntry parse_entry(const std::string& name, const Json& info, uint64_t buffer_bytes,
                        const std::string& path) {
  KESTREL_CHECK(info.is_object(),
                "{}: tensor {}: expected an object with dtype, shape and "
                "data_offsets, got a JSON {}",
                path, name, info.type_name());
  for (const auto& [key, value] : info.items()) {
    KESTREL_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
                  "{}: tensor {}: unknown field \"{}\"", path, name, key);
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    KESTREL_CHECK(info.contains(key), "{}: tensor {}: missing \"{}\"", path, name, key);
  }

  HeaderEntry e{name, DType::F32, Shape{}, 0, 0};
  const Json& dtype = info["dtype"];
  KESTREL_CHECK(dtype.is_string(), "{}: tensor {}: dtype must be a string, got {}", path, name,
                shown(dtype));
  const std::string dtype_text = dtype.get<std::string>();
  const auto parsed = parse_dtype(dtype_text);
  if (!parsed) {
    const bool in_spec = std::find(kOtherSpecDTypes.begin(), kOtherSpecDTypes.end(), dtype_text) !=
                         kOtherSpecDTypes.end();
    KESTREL_FAIL("{}: tensor {}: {} (kestrel reads F32, BF16, F16, I32, I64 and U8)", path, name,
                 in_spec ? fmt::format("dtype {} is not supported", dtype_text)
                         : fmt::format("unknown dtype \"{}\"", dtype_text));
  }
  e.dtype = *parsed;

  const Json& shape = info["shape"];
  KESTREL_CHECK(shape.is_array(), "{}: tensor {}: shape must be a list, got {}", path, name,
                shown(shape));
  KESTREL_CHECK(shape.size() <= static_cast<size_t>(Shape::kMaxDims),
                "{}: tensor {}: shape {} has {} dimensions; kestrel holds at most {}", path, name,
                shown(shape), shape.size(), Shape::kMaxDims);
  std::array<int64_t, Shape::kMaxDims> dims{};
  // The size in bytes, with every product checked: a header may claim any dimensions.
  uint64_t bytes = dtype_size(e.dtype);
  bool overflow = false;
  // The product of the non-zero dimensions must fit int64_t even when another dimension is 0
  // (an empty tensor): Shape::numel() and row sizes multiply dimensions in any order.
  constexpr uint64_t kMaxElements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t nonzero_elements = 1;
  bool too_many_elements = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    const Json& dim = shape[d];
    KESTREL_CHECK(!(dim.is_number_integer() && !as_count(dim)),
                  "{}: tensor {}: negative dimension {} in shape {}", path, name, shown(dim),
                  shown(shape));
    const auto n = as_count(dim);
    KESTREL_CHECK(n.has_value(), "{}: tensor {}: shape {} must list non-negative integers", path,
                  name, shown(shape));
    overflow = overflow || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
               (*n != 0 && bytes > std::numeric_limits<uint64_t>::max() / *n);
    if (!overflow) bytes *= *n;
    if (*n != 0) {
      too_many_elements = too_many_elements || *n > kMaxElements / nonzero_elements;
      if (!too_many_elements) nonzero_elements *= *n;
    }
    dims[d] = overflow ? 0 : static_cast<int64_t>(*n);
  }

  const Json& offsets = info["data_offsets"];
  const auto begin =
      offsets.is_array() && offsets.size() == 2 ? as_count(offsets[0]) : std::nullopt;
  const auto end = offsets.is_array() && offsets.size() == 2 ? as_count(offsets[1]) : std::nullopt;
  KESTREL_CHECK(begin && end,
                "{}: tensor {}: data_offsets must be [begin, end] with "
                "non-negative integers, got {}",
                path, name, shown(offsets));
  e.begin = *begin;
  e.end = *end;
  KESTREL_CHECK(e.begin <= e.end, "{}: tensor {}: data_offsets {} end before they begin", path,
                name, shown(offsets));
  KESTREL_CHECK(e.end <= buffer_bytes,
                "{}: tensor {}: data_offsets {} extend beyond the {}-byte data buffer (file "
                "truncated?)",
                path, name, shown(offsets), grouped(buffer_bytes));
  KESTREL_CHECK(!overflow && bytes == e.end - e.begin,
                "{}: tensor {}: data_offsets {} do not match shape {} of {} ({} bytes)", path, name,
                shown(offsets), shown(shape), dtype_text,
                overflow ? std::string("too many") : grouped(bytes));
  KESTREL_CHECK(!too_many_elements,
                "{}: tensor {}: shape {} is too large: its non-zero dimensions multiply to more "
                "than 2^63 - 1 elements",
                path, name, shown(shape));
  e.shape = Shape::from(dims.data(), static_cast<int>(shape.size()));
  return e;
}

// The spec's layout rule: sorted by offsets, each tensor starts where the previous ended and
// the last ends at the end of the buffer.
void check_layout(std::vector<HeaderEntry>& entries, uint64_t buffer_bytes,
                  const std::string& path) {
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t covered = 0;
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry& e : entries) {
    KESTREL_CHECK(e.begin >= covered,
                  "{}: tensors {} and {} overlap (data_offsets [{}, {}] and [{}, {}])", path,
                  previous ? previous->name : "", e.name, previous ? previous->begin : 0,
                  previous ? previous->end : 0, e.begin, e.end);
    KESTREL_CHECK(e.begin == covered,
                  "{}: bytes [{}, {}) of the data buffer belong to no tensor (a hole before "
                  "tensor {})",
                  path, covered, e.begin, e.name);
    covered = e.end;
    previous = &e;
  }
  KESTREL_CHECK(covered == buffer_bytes,
                "{}: the data buffer has {} bytes but the tensors end at byte {} ({} bytes "
                "belong to no tensor)",
                path, grouped(buffer_bytes), grouped(covered), grouped(buffer_bytes - covered));
}

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    case DType::I32:
      return "I32";
    case DType::I64:
      return "I64";
    case DType::U8:
      return "U8";
    case DType::F64:
      return "F64";
  }
  return "?";
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Everything that can be checked is checked before the temporary file exists.
  std::set<std::string_view> names;
  for (const auto& [name, tensor] : tensors) {
    KESTREL_CHECK(!name.empty(), "cannot write {}: a tensor has an empty name", path);
    KESTREL_CHECK(name != kMetadataKey, "cannot write {}: \"{}\" is reserved for the metadata",
                  path, kMetadataKey);
    KESTREL_CHECK(names.insert(name).second, "cannot write {}: tensor name {} appears twice", path,
                  name);
    KESTREL_CHECK(tensor.defined(), "cannot write {}: tensor {} is undefined", path, name);
  }

  std::vector<PlacedTensor> placed;
  placed.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) placed.push_back({&name, &tensor, 0, 0});
  std::sort(placed.begin(), placed.end(), [](const PlacedTensor& a, const PlacedTensor& b) {
    const int ra = reference_rank(a.tensor->dtype()), rb = reference_rank(b.tensor->dtype());
    return ra != rb ? ra > rb : *a.name < *b.name;
  });
  uint64_t offset = 0;
  for (PlacedTensor& p : placed) {
    p.begin = offset;
    offset += p.tensor->nbytes();
    p.end = offset;
  }
  const std::string header = header_bytes(placed, metadata, path);

  std::string temp_path;
  int fd = create_temp_file(path, temp_path);
  try {
    const uint64_t header_length = header.size();
    write_all(fd, &header_length, sizeof header_length, temp_path);
    write_all(fd, header.data(), header.size(), temp_path);
    for (const PlacedTensor& p : placed) write_tensor(fd, *p.tensor, temp_path);
    KESTREL_CHECK(::fsync(fd) == 0, "cannot write {}: fsync: {}", temp_path, errno_text(errno));
    const int rc = ::close(fd);
    fd = -1;
    KESTREL_CHECK(rc == 0, "cannot write {}: close: {}", temp_path, errno_text(errno));
    KESTREL_CHECK(::rename(temp_path.c_str(), path.c_str()) == 0,
                  "cannot write {}: rename from {}: {}", path, temp_path, errno_text(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp_path.c_str());
    throw;
  }
  sync_directory(directory_of(path), path);
}

const SafetensorsFile::Entry* SafetensorsFile::find(std::string_view name) const {
  const auto it =
      std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.name == name; });
  return it == entries.end() ? nullptr : &*it;
}

namespace {

// The reader behind read_safetensors and parse_safetensors; `path` starts every message.
SafetensorsFile read_from(const Input& file, const std::string& path) {
  KESTREL_CHECK(file.size() >= 8,
                "{}: not a safetensors file ({} bytes, shorter than the 8-byte header length)",
                path, file.size());
  uint64_t header_length = 0;
  file.read_at(0, &header_length, sizeof header_length);
  KESTREL_CHECK(header_length <= file.size() - 8,
                "{}: header length {} exceeds file size {} (not a safetensors file, or "
                "truncated)",
                path, grouped(header_length), grouped(file.size()));
  KESTREL_CHECK(header_length <= kMaxHeaderBytes,
                "{}: header length {} exceeds the safetensors limit of {} bytes", path,
                grouped(header_length), grouped(kMaxHeaderBytes));

  std::string text(static_cast<size_t>(header_length), '\0');
  file.read_at(8, text.data(), text.size());
  const Json header = parse_header(text, path);
  const uint64_t data_start = 8 + header_length;
  const uint64_t buffer_bytes = file.size() - data_start;

  SafetensorsFile out;
  std::vector<HeaderEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      KESTREL_CHECK(value.is_object(), "{}: __metadata__ must be an object, got a JSON {}", path,
                    value.type_name());
      for (const auto& [mkey, mvalue] : value.items()) {
        KESTREL_CHECK(mvalue.is_string(),
                      "{}: __metadata__ maps strings to strings, but \"{}\" is {}", path, mkey,
                      mvalue.dump());
        out.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, buffer_bytes, path));
  }
  check_layout(entries, buffer_bytes, path);

  out.entries.reserve(entries.size());
  for (const HeaderEntry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());
    if (t.nbytes() > 0) file.read_at(data_start + e.begin, t.raw_data(), t.nbytes());
    out.entries.push_back({e.name, e.dtype, e.shape, std::move(t)});
  }
  return out;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) { return read_from(File(path), path); }

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, const std::string& name) {
  return read_from(Memory(bytes), name);
}

}  // namespace kestrel::checkpoint
