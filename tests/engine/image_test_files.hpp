#pragma once
// PNG and JPEG writers for the image-reader tests, on libpng's and libjpeg's own encoders, so
// every file is one a real program could have written.
#include <gtest/gtest.h>

// jpeglib.h needs size_t and FILE declared first.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

namespace kestrel::test {

// A PNG to write: `samples` holds height rows, each packed as libpng expects it (sub-byte
// samples most significant bits first, 16-bit samples big-endian).
struct PngImage {
  uint32_t width = 1, height = 1;
  int bit_depth = 8;
  int colour_type = PNG_COLOR_TYPE_GRAY;
  bool interlaced = false;
  std::vector<uint8_t> samples;
  std::vector<png_color> palette;      // PNG_COLOR_TYPE_PALETTE
  std::vector<uint8_t> palette_alpha;  // tRNS of a palette image, when not empty
  int transparent_gray = -1;           // tRNS of a gray image, when >= 0

  int channels() const {
    switch (colour_type) {
      case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
      case PNG_COLOR_TYPE_RGB:
        return 3;
      case PNG_COLOR_TYPE_RGB_ALPHA:
        return 4;
      default:
        return 1;
    }
  }
  size_t row_bytes() const {
    return (static_cast<size_t>(width) * static_cast<size_t>(channels()) *
                static_cast<size_t>(bit_depth) +
            7) /
           8;
  }
};

inline bool write_png_or_fail(const std::string& path, const PngImage& image) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(image.height);
  std::vector<uint8_t> samples = image.samples;
  for (uint32_t y = 0; y < image.height; ++y) rows[y] = samples.data() + y * image.row_bytes();
  volatile bool ok = false;
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, file);
    png_set_IHDR(png, info, image.width, image.height, image.bit_depth, image.colour_type,
                 image.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (!image.palette.empty())
      png_set_PLTE(png, info, image.palette.data(), static_cast<int>(image.palette.size()));
    if (!image.palette_alpha.empty())
      png_set_tRNS(png, info, image.palette_alpha.data(),
                   static_cast<int>(image.palette_alpha.size()), nullptr);
    if (image.transparent_gray >= 0) {
      png_color_16 colour{};
      colour.gray = static_cast<png_uint_16>(image.transparent_gray);
      png_set_tRNS(png, info, nullptr, 0, &colour);
    }
    png_write_info(png, info);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    ok = true;
  }
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
  return ok;
}

inline void write_png(const std::string& path, const PngImage& image) {
  ASSERT_EQ(image.samples.size(), image.row_bytes() * image.height) << path;
  ASSERT_TRUE(write_png_or_fail(path, image)) << path;
}

// A JPEG to write: height rows of width * components bytes in `colour_space` (JCS_GRAYSCALE 1,
// JCS_RGB 3, JCS_CMYK 4 components; CMYK files get libjpeg's Adobe marker).
struct JpegImage {
  uint32_t width = 1, height = 1;
  int components = 1;
  J_COLOR_SPACE colour_space = JCS_GRAYSCALE;
  int quality = 95;
  bool progressive = false;
  std::vector<uint8_t> samples;
};

struct TestJpegErrors {
  jpeg_error_mgr base;
  std::jmp_buf jump;
};

inline void test_jpeg_error_exit(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<TestJpegErrors*>(cinfo->err)->jump, 1);
}

inline bool write_jpeg_or_fail(const std::string& path, const JpegImage& image) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  jpeg_compress_struct cinfo{};
  TestJpegErrors errors{};
  cinfo.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = test_jpeg_error_exit;
  volatile bool ok = false;
  if (setjmp(errors.jump) == 0) {
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = image.width;
    cinfo.image_height = image.height;
    cinfo.input_components = image.components;
    cinfo.in_color_space = image.colour_space;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, image.quality, TRUE);
    if (image.progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t row_bytes =
        static_cast<size_t>(image.width) * static_cast<size_t>(image.components);
    while (cinfo.next_scanline < cinfo.image_height) {
      // libjpeg takes non-const rows but only reads them.
      JSAMPROW row = const_cast<uint8_t*>(image.samples.data()) + cinfo.next_scanline * row_bytes;
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    ok = true;
  }
  jpeg_destroy_compress(&cinfo);
  std::fclose(file);
  return ok;
}

inline void write_jpeg(const std::string& path, const JpegImage& image) {
  ASSERT_EQ(image.samples.size(),
            static_cast<size_t>(image.width) * image.height * static_cast<size_t>(image.components))
      << path;
  ASSERT_TRUE(write_jpeg_or_fail(path, image)) << path;
}

}  // namespace kestrel::test
