#include "engine/data/image_file.hpp"

// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <memory>
#include <utility>

#include "engine/data/png_error.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::data {

namespace {

constexpr std::array<uint8_t, 8> kPngMagic = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::array<uint8_t, 3> kJpegMagic = {0xFF, 0xD8, 0xFF};

std::string errno_text() { return std::strerror(errno); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

void check_dimensions(const std::string& path, const char* format, uint64_t width,
                      uint64_t height) {
  KESTREL_CHECK(width > 0 && height > 0, "image {}: the {} header says {} x {} pixels", path,
                format, width, height);
  KESTREL_CHECK(width <= static_cast<uint64_t>(kMaxImageSide) &&
                    height <= static_cast<uint64_t>(kMaxImageSide),
                "image {}: {} x {} pixels exceeds the limit of {} pixels per side", path, width,
                height, kMaxImageSide);
}

// Folds an alpha channel into the colour channels, in place: over black, round(v * a / 255).
// The image shrinks from colour_channels + 1 to colour_channels bytes a pixel; each write lands
// at or before the bytes still to be read.
Image composite_over_black(int64_t width, int64_t height, int64_t colour_channels,
                           std::vector<uint8_t> pixels) {
  const int64_t count = width * height;
  const int64_t stride = colour_channels + 1;
  for (int64_t p = 0; p < count; ++p) {
    const uint32_t alpha = pixels[static_cast<size_t>(p * stride + colour_channels)];
    for (int64_t c = 0; c < colour_channels; ++c) {
      const uint32_t v = pixels[static_cast<size_t>(p * stride + c)];
      pixels[static_cast<size_t>(p * colour_channels + c)] =
          static_cast<uint8_t>((v * alpha + 127) / 255);
    }
  }
  pixels.resize(static_cast<size_t>(count * colour_channels));
  Image image;
  image.width = width;
  image.height = height;
  image.channels = colour_channels;
  image.pixels = std::move(pixels);
  return image;
}

// ---- PNG --------------------------------------------------------------------------------------
//
// libpng errors longjmp back to the setjmp in one of PngDecoder's *_or_fail methods
// (png_error.hpp); those hold no C++ object that needs destroying and touch only memory
// allocated before they were called.

class PngDecoder {
 public:
  PngDecoder(const std::string& path, std::FILE* file) : path_(path) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure_, on_png_error, on_png_warning);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    KESTREL_CHECK(png_ != nullptr && info_ != nullptr, "image {}: out of memory setting up libpng",
                  path);
    png_init_io(png_, file);
  }
  ~PngDecoder() { png_destroy_read_struct(&png_, info_ != nullptr ? &info_ : nullptr, nullptr); }
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;

  Image decode() {
    png_uint_32 width = 0, height = 0;
    fail_unless(read_header_or_fail(width, height), "is not a readable PNG");
    check_dimensions(path_, "PNG", width, height);
    int channels = 0;
    size_t row_bytes = 0;
    fail_unless(set_transforms_or_fail(channels, row_bytes), "is not a readable PNG");
    // After the transforms every sample is 8-bit: gray, gray+alpha, RGB or RGBA.
    KESTREL_CHECK(channels >= 1 && channels <= 4 &&
                      row_bytes == static_cast<size_t>(width) * static_cast<size_t>(channels),
                  "image {}: unexpected PNG layout after conversion to 8 bits ({} channels, {} "
                  "bytes per row)",
                  path_, channels, row_bytes);
    std::vector<uint8_t> pixels(row_bytes * height);
    std::vector<png_bytep> rows(height);
    for (size_t y = 0; y < height; ++y) rows[y] = pixels.data() + y * row_bytes;
    fail_unless(read_rows_or_fail(rows.data()), "is a corrupt or truncated PNG");

    const bool has_alpha = channels == 2 || channels == 4;
    if (has_alpha) return composite_over_black(width, height, channels - 1, std::move(pixels));
    Image image;
    image.width = width;
    image.height = height;
    image.channels = channels;
    image.pixels = std::move(pixels);
    return image;
  }

 private:
  void fail_unless(bool ok, const char* what) const {
    KESTREL_CHECK(ok, "image {} {}: {}", path_, what, failure_.message);
  }

  bool read_header_or_fail(png_uint_32& width, png_uint_32& height) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_info(png_, info_);
    width = png_get_image_width(png_, info_);
    height = png_get_image_height(png_, info_);
    return true;
  }

  // Asks libpng for 8-bit gray or RGB samples, with an alpha channel when the file has any
  // transparency.
  bool set_transforms_or_fail(int& channels, size_t& row_bytes) {
    if (setjmp(png_jmpbuf(png_))) return false;
    const int colour_type = png_get_color_type(png_, info_);
    const int bit_depth = png_get_bit_depth(png_, info_);
    if (colour_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png_);
    if (colour_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png_);
    if (png_get_valid(png_, info_, PNG_INFO_tRNS) != 0) png_set_tRNS_to_alpha(png_);
    if (bit_depth == 16) png_set_scale_16(png_);
    png_set_interlace_handling(png_);
    png_read_update_info(png_, info_);
    channels = png_get_channels(png_, info_);
    row_bytes = png_get_rowbytes(png_, info_);
    return true;
  }

  // Reads every row and the chunks after the image data, so that a file cut short anywhere is
  // an error.
  bool read_rows_or_fail(png_bytepp rows) {
    if (setjmp(png_jmpbuf(png_))) return false;
    png_read_image(png_, rows);
    png_read_end(png_, nullptr);
    return true;
  }

  std::string path_;
  PngFailure failure_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// ---- JPEG -------------------------------------------------------------------------------------
//
// libjpeg's default error_exit calls exit(). Ours formats the message and longjmps back to the
// setjmp in one of JpegDecoder's *_or_fail methods (same discipline as for PNG). libjpeg reports
// corrupt data (a truncated file, a bad Huffman code) as warnings and carries on with gray
// pixels; ours records the first such warning and the decoder turns it into an error.

struct JpegErrorManager {
  jpeg_error_mgr base;  // first, so that libjpeg's pointer to it is a pointer to the whole
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char corrupt_data[JMSG_LENGTH_MAX];
};

JpegErrorManager& error_manager(j_common_ptr cinfo) {
  return *reinterpret_cast<JpegErrorManager*>(cinfo->err);
}

void on_jpeg_error(j_common_ptr cinfo) {
  JpegErrorManager& errors = error_manager(cinfo);
  (*cinfo->err->format_message)(cinfo, errors.message);
  std::longjmp(errors.jump, 1);
}

// Warnings that mean the pixels are not the file's (the rest, such as an unknown JFIF revision
// or a bad ICC marker, leave the image intact).
bool is_corrupt_data_warning(int code) {
  switch (code) {
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_TOO_MUCH_DATA:
      return true;
    default:
      return false;
  }
}

void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  JpegErrorManager& errors = error_manager(cinfo);
  if (errors.corrupt_data[0] == '\0' && is_corrupt_data_warning(cinfo->err->msg_code))
    (*cinfo->err->format_message)(cinfo, errors.corrupt_data);
}

class JpegDecoder {
 public:
  JpegDecoder(const std::string& path, std::FILE* file) : path_(path), file_(file) {
    cinfo_.err = jpeg_std_error(&errors_.base);
    errors_.base.error_exit = on_jpeg_error;
    errors_.base.emit_message = on_jpeg_message;
    errors_.message[0] = '\0';
    errors_.corrupt_data[0] = '\0';
  }
  ~JpegDecoder() {
    if (created_) jpeg_destroy_decompress(&cinfo_);
  }
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  Image decode() {
    fail_unless(read_header_or_fail(), "is not a readable JPEG");
    check_dimensions(path_, "JPEG", cinfo_.image_width, cinfo_.image_height);
    const int64_t width = cinfo_.image_width, height = cinfo_.image_height;
    const int64_t out_channels = choose_output_colour();
    std::vector<uint8_t> pixels(static_cast<size_t>(width * height * out_channels));
    fail_unless(decode_or_fail(pixels.data(), out_channels), "is a corrupt or truncated JPEG");
    KESTREL_CHECK(errors_.corrupt_data[0] == '\0', "image {} is a corrupt or truncated JPEG: {}",
                  path_, errors_.corrupt_data);

    if (out_channels == 4) return cmyk_to_rgb(width, height, pixels);
    Image image;
    image.width = width;
    image.height = height;
    image.channels = out_channels;
    image.pixels = std::move(pixels);
    return image;
  }

 private:
  void fail_unless(bool ok, const char* what) const {
    KESTREL_CHECK(ok, "image {} {}: {}", path_, what,
                  errors_.corrupt_data[0] != '\0' ? errors_.corrupt_data : errors_.message);
  }

  bool read_header_or_fail() {
    if (setjmp(errors_.jump)) return false;
    jpeg_create_decompress(&cinfo_);
    created_ = true;
    jpeg_stdio_src(&cinfo_, file_);
    jpeg_read_header(&cinfo_, TRUE);
    return true;
  }

  // Gray stays gray; CMYK/YCCK come out as (Adobe) CMYK for cmyk_to_rgb; the rest as RGB.
  int64_t choose_output_colour() {
    switch (cinfo_.jpeg_color_space) {
      case JCS_GRAYSCALE:
        cinfo_.out_color_space = JCS_GRAYSCALE;
        return 1;
      case JCS_CMYK:
      case JCS_YCCK:
        cinfo_.out_color_space = JCS_CMYK;
        return 4;
      default:
        cinfo_.out_color_space = JCS_RGB;
        return 3;
    }
  }

  // Decodes every scanline into `pixels` (image_height rows of image_width * channels bytes).
  // Returns false on a libjpeg error or an output shape other than the one asked for.
  bool decode_or_fail(uint8_t* pixels, int64_t channels) {
    if (setjmp(errors_.jump)) return false;
    jpeg_start_decompress(&cinfo_);
    if (cinfo_.output_width != cinfo_.image_width || cinfo_.output_height != cinfo_.image_height ||
        cinfo_.output_components != channels) {
      std::snprintf(errors_.message, sizeof errors_.message,
                    "decoder produced %u x %u x %d instead of %u x %u x %d", cinfo_.output_width,
                    cinfo_.output_height, cinfo_.output_components, cinfo_.image_width,
                    cinfo_.image_height, static_cast<int>(channels));
      return false;
    }
    const size_t row_bytes =
        static_cast<size_t>(cinfo_.output_width) * static_cast<size_t>(channels);
    while (cinfo_.output_scanline < cinfo_.output_height) {
      JSAMPROW row = pixels + static_cast<size_t>(cinfo_.output_scanline) * row_bytes;
      jpeg_read_scanlines(&cinfo_, &row, 1);
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

  // CMYK -> RGB, r = c * k / 255 (rounded). Adobe's files (the usual CMYK JPEGs, which carry an
  // Adobe marker) store inverted samples, 255 meaning no ink; others store ink amounts.
  Image cmyk_to_rgb(int64_t width, int64_t height, const std::vector<uint8_t>& cmyk) const {
    const bool inverted = cinfo_.saw_Adobe_marker != 0;
    Image image;
    image.width = width;
    image.height = height;
    image.channels = 3;
    image.pixels.resize(static_cast<size_t>(width * height * 3));
    for (int64_t p = 0; p < width * height; ++p) {
      const auto sample = [&](int64_t c) -> uint32_t {
        const uint32_t v = cmyk[static_cast<size_t>(4 * p + c)];
        return inverted ? v : 255 - v;
      };
      const uint32_t k = sample(3);
      for (int64_t c = 0; c < 3; ++c)
        image.pixels[static_cast<size_t>(3 * p + c)] =
            static_cast<uint8_t>((sample(c) * k + 127) / 255);
    }
    return image;
  }

  std::string path_;
  std::FILE* file_;
  JpegErrorManager errors_;
  jpeg_decompress_struct cinfo_ = {};
  bool created_ = false;
};

}  // namespace

Image read_image(const std::string& path) {
  std::error_code ec;
  KESTREL_CHECK(!std::filesystem::is_directory(path, ec), "image {} is a folder, not a file", path);
  FilePtr file(std::fopen(path.c_str(), "rb"));
  KESTREL_CHECK(file != nullptr, "image {}: cannot open: {}", path, errno_text());
  std::array<uint8_t, 8> head{};
  const size_t got = std::fread(head.data(), 1, head.size(), file.get());
  KESTREL_CHECK(std::ferror(file.get()) == 0, "image {}: cannot read: {}", path, errno_text());
  KESTREL_CHECK(got > 0, "image {} is empty", path);
  std::rewind(file.get());
  if (got == kPngMagic.size() && std::equal(kPngMagic.begin(), kPngMagic.end(), head.begin()))
    return PngDecoder(path, file.get()).decode();
  if (got >= kJpegMagic.size() && std::equal(kJpegMagic.begin(), kJpegMagic.end(), head.begin()))
    return JpegDecoder(path, file.get()).decode();
  KESTREL_FAIL("image {} is not a PNG or JPEG file (it does not start with their signatures)",
               path);
}

void invert_image(Image& image) {
  for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(255 - v);
}

}  // namespace kestrel::data
