#include "engine/data/cifar_png.hpp"

#include <fcntl.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/data/png_error.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {

namespace {

constexpr int64_t kPngWidth = kCifar10PixelsPerImage;  // one image per PNG row
constexpr int64_t kPngRowBytes = 3 * kPngWidth;        // R,G,B interleaved

std::string errno_text() { return std::strerror(errno); }

const char* colour_type_name(int colour_type) {
  switch (colour_type) {
    case PNG_COLOR_TYPE_GRAY:
      return "grayscale";
    case PNG_COLOR_TYPE_RGB:
      return "RGB";
    case PNG_COLOR_TYPE_PALETTE:
      return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return "grayscale+alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return "RGBA";
    default:
      return "unknown";
  }
}

struct PngHeader {
  png_uint_32 width = 0;
  png_uint_32 height = 0;
  int bit_depth = 0;
  int colour_type = 0;
};

class PngReader {
 public:
  explicit PngReader(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    KESTREL_CHECK(file_ != nullptr, "cifar10: cannot open {}: {}", path, errno_text());
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure_, on_png_error, on_png_warning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (png_ == nullptr || info_ == nullptr) {
      close();
      KESTREL_FAIL("cifar10: out of memory setting up libpng for {}", path);
    }
    png_init_io(png_, file_);
  }
  ~PngReader() { close(); }
  PngReader(const PngReader&) = delete;
  PngReader& operator=(const PngReader&) = delete;

  PngHeader read_header() {
    PngHeader header;
    KESTREL_CHECK(read_header_or_fail(header), "cifar10: {} is not a readable PNG: {}", path_,
                  failure_.message);
    return header;
  }

  // Reads all rows into rows[0..height) and the chunks after the image data, so that a file
  // cut short anywhere is an error.
  void read_image(png_bytepp rows) {
    KESTREL_CHECK(read_image_or_fail(rows), "cifar10: {} is corrupt or truncated: {}", path_,
                  failure_.message);
  }

 private:
  bool read_header_or_fail(PngHeader& header) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_info(png_, info_);
    header.width = png_get_image_width(png_, info_);
    header.height = png_get_image_height(png_, info_);
    header.bit_depth = png_get_bit_depth(png_, info_);
    header.colour_type = png_get_color_type(png_, info_);
    return true;
  }

  bool read_image_or_fail(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    png_read_image(png_, rows);
    png_read_end(png_, nullptr);
    return true;
  }

  void close() {
    if (png_ != nullptr)
      png_destroy_read_struct(&png_, info_ != nullptr ? &info_ : nullptr, nullptr);
    if (file_ != nullptr) std::fclose(file_);
    png_ = nullptr;
    info_ = nullptr;
    file_ = nullptr;
  }

  std::string path_;
  PngFailure failure_;
  std::FILE* file_ = nullptr;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// A temporary file beside its destination that is removed unless committed.
class TempFile {
 public:
  explicit TempFile(const std::string& destination) : destination_(destination) {
    std::string pattern = destination + ".tmp.XXXXXX";
    fd_ = ::mkstemp(pattern.data());
    KESTREL_CHECK(fd_ >= 0, "cifar10: cannot create a temporary file beside {}: {}", destination,
                  errno_text());
    path_ = pattern;
    ::fchmod(fd_, 0644);  // mkstemp makes 0600; data files are world-readable like the rest
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const uint8_t* data, size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      KESTREL_CHECK(n > 0, "cifar10: cannot write {}: {}", destination_, errno_text());
      data += n;
      size -= static_cast<size_t>(n);
    }
  }

  // fsync, close, rename over the destination, then fsync the folder so the rename survives
  // a crash.
  void commit() {
    KESTREL_CHECK(::fsync(fd_) == 0, "cifar10: cannot sync {}: {}", destination_, errno_text());
    const int fd = fd_;
    fd_ = -1;
    KESTREL_CHECK(::close(fd) == 0, "cifar10: cannot close {}: {}", destination_, errno_text());
    KESTREL_CHECK(::rename(path_.c_str(), destination_.c_str()) == 0,
                  "cifar10: cannot rename {} to {}: {}", path_, destination_, errno_text());
    committed_ = true;
    const std::filesystem::path parent = std::filesystem::path(destination_).parent_path();
    const std::filesystem::path folder = parent.empty() ? std::filesystem::path(".") : parent;
    const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    KESTREL_CHECK(dir_fd >= 0, "cifar10: cannot open folder {}: {}", folder.string(), errno_text());
    const int synced = ::fsync(dir_fd);
    ::close(dir_fd);
    KESTREL_CHECK(synced == 0, "cifar10: cannot sync folder {}: {}", folder.string(), errno_text());
  }

 private:
  std::string destination_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_file_atomically(const std::string& path, const uint8_t* data, size_t size) {
  TempFile file(path);
  file.write(data, size);
  file.commit();
}

std::string join(const std::string& folder, const std::string& name) {
  return (std::filesystem::path(folder) / name).string();
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

std::vector<int32_t> read_cifar10_labels_json(const std::string& path) {
  std::ifstream in(path);
  KESTREL_CHECK(in.is_open(), "cifar10: cannot open labels file {}: {}", path, errno_text());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    KESTREL_FAIL("cifar10: {} is not valid JSON: {}", path, e.what());
  }
  KESTREL_CHECK(doc.is_array(), "cifar10: {} must hold a JSON array of labels, not a JSON {}", path,
                doc.type_name());
  std::vector<int32_t> labels;
  labels.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& v = doc[i];
    const bool in_range =
        (v.is_number_unsigned() && v.get<uint64_t>() < static_cast<uint64_t>(kCifar10Classes)) ||
        (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < kCifar10Classes);
    KESTREL_CHECK(in_range, "cifar10: {}: label {} at index {} is not an integer in [0, {})", path,
                  v.dump(), i, kCifar10Classes);
    labels.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return labels;
}

void convert_cifar10_png_batch(const std::string& png_path, std::span<const int32_t> labels,
                               const std::string& out_bin_path) {
  for (size_t i = 0; i < labels.size(); ++i) {
    KESTREL_CHECK(labels[i] >= 0 && labels[i] < kCifar10Classes,
                  "cifar10: label {} at index {} for {} is outside [0, {})", labels[i], i, png_path,
                  kCifar10Classes);
  }
  PngReader reader(png_path);
  const PngHeader header = reader.read_header();
  KESTREL_CHECK(header.bit_depth == 8, "cifar10: {} has {}-bit samples; expected 8-bit RGB",
                png_path, header.bit_depth);
  KESTREL_CHECK(header.colour_type == PNG_COLOR_TYPE_RGB,
                "cifar10: {} has colour type {}; expected 8-bit RGB", png_path,
                colour_type_name(header.colour_type));
  KESTREL_CHECK(static_cast<int64_t>(header.width) == kPngWidth,
                "cifar10: {} is {} pixels wide; expected {} (one 32x32 image per row)", png_path,
                header.width, kPngWidth);
  KESTREL_CHECK(header.height == labels.size(),
                "cifar10: {} has {} rows (images) but {} labels were given", png_path,
                header.height, labels.size());

  const size_t images = labels.size();
  std::vector<uint8_t> pixels(images * kPngRowBytes);
  std::vector<png_bytep> rows(images);
  for (size_t n = 0; n < images; ++n) rows[n] = pixels.data() + n * kPngRowBytes;
  reader.read_image(rows.data());

  // Interleaved R,G,B per pixel -> label byte, then the R, G and B planes.
  std::vector<uint8_t> records(images * kCifar10RecordBytes);
  for (size_t n = 0; n < images; ++n) {
    const uint8_t* src = rows[n];
    uint8_t* dst = records.data() + n * kCifar10RecordBytes;
    dst[0] = static_cast<uint8_t>(labels[n]);
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t p = 0; p < kCifar10PixelsPerImage; ++p) {
        dst[1 + c * kCifar10PixelsPerImage + p] = src[3 * p + c];
      }
    }
  }
  write_file_atomically(out_bin_path, records.data(), records.size());
}

void convert_cifar10_package(const std::string& package_dir, const std::string& out_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  KESTREL_CHECK(fs::is_directory(package_dir, ec), "cifar10: package folder {} does not exist",
                package_dir);
  const std::string train_labels_path = join(package_dir, "train_lables.json");
  const std::string test_labels_path = join(package_dir, "test_lables.json");
  const std::vector<int32_t> train_labels = read_cifar10_labels_json(train_labels_path);
  const std::vector<int32_t> test_labels = read_cifar10_labels_json(test_labels_path);
  const auto train_count = static_cast<size_t>(kCifar10TrainBatches * kCifar10ImagesPerBatch);
  KESTREL_CHECK(train_labels.size() == train_count, "cifar10: {} holds {} labels; expected {}",
                train_labels_path, train_labels.size(), train_count);
  KESTREL_CHECK(test_labels.size() == static_cast<size_t>(kCifar10ImagesPerBatch),
                "cifar10: {} holds {} labels; expected {}", test_labels_path, test_labels.size(),
                kCifar10ImagesPerBatch);

  fs::create_directories(out_dir, ec);
  KESTREL_CHECK(!ec, "cifar10: cannot create folder {}: {}", out_dir, ec.message());

  const std::span<const int32_t> train(train_labels);
  for (int64_t k = 1; k <= kCifar10TrainBatches; ++k) {
    const auto first = static_cast<size_t>((k - 1) * kCifar10ImagesPerBatch);
    convert_cifar10_png_batch(join(package_dir, fmt::format("data_batch_{}.png", k)),
                              train.subspan(first, kCifar10ImagesPerBatch),
                              join(out_dir, fmt::format("data_batch_{}.bin", k)));
  }
  convert_cifar10_png_batch(join(package_dir, "test_batch.png"), test_labels,
                            join(out_dir, "test_batch.bin"));

  // The official batches.meta.txt: one class name per line, then an empty line.
  std::string meta;
  for (const std::string& name : cifar10_class_names()) {
    meta.append(name);
    meta.push_back('\n');
  }
  meta.push_back('\n');
  write_file_atomically(join(out_dir, "batches.meta.txt"),
                        reinterpret_cast<const uint8_t*>(meta.data()), meta.size());
}

}  // namespace kestrel::data
