#include "engine/report/png_encode.hpp"

#include <png.h>

#include <cstring>

#include "kernels/common/error.hpp"

namespace kestrel::report {

namespace {

// libpng reports errors by longjmp: the handler keeps the message, and the code between setjmp
// and the longjmp holds only plain data, so no destructor is skipped.
struct PngWriteState {
  std::vector<uint8_t>* out = nullptr;
  char message[256] = {};
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::strncpy(state->message, message, sizeof(state->message) - 1);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void on_png_write(png_structp png, png_bytep data, png_size_t length) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  state->out->insert(state->out->end(), data, data + length);
}

void on_png_flush(png_structp) {}

bool write_rows(png_structp png, png_infop info, png_bytepp rows, png_uint_32 width,
                png_uint_32 height, int colour_type) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, width, height, 8, colour_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

std::vector<uint8_t> encode_png(const uint8_t* chw, int channels, int height, int width,
                                int scale) {
  KESTREL_CHECK(channels == 1 || channels == 3,
                "encode_png: expected 1 (grey) or 3 (RGB) channels, got {}", channels);
  KESTREL_CHECK(height > 0 && width > 0 && scale > 0 && scale <= 64,
                "encode_png: bad size {}x{} at scale {}", height, width, scale);
  KESTREL_CHECK(chw != nullptr, "encode_png: no pixels");
  const size_t out_w = static_cast<size_t>(width) * static_cast<size_t>(scale);
  const size_t out_h = static_cast<size_t>(height) * static_cast<size_t>(scale);
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  const size_t c = static_cast<size_t>(channels);

  // Interleave the planes and repeat each pixel scale x scale times.
  std::vector<uint8_t> pixels(out_w * out_h * c);
  for (size_t y = 0; y < out_h; ++y) {
    const size_t source_row = (y / static_cast<size_t>(scale)) * static_cast<size_t>(width);
    for (size_t x = 0; x < out_w; ++x) {
      const size_t source = source_row + x / static_cast<size_t>(scale);
      for (size_t k = 0; k < c; ++k) pixels[(y * out_w + x) * c + k] = chw[k * plane + source];
    }
  }
  std::vector<png_bytep> rows(out_h);
  for (size_t y = 0; y < out_h; ++y) rows[y] = pixels.data() + y * out_w * c;

  std::vector<uint8_t> out;
  PngWriteState state;
  state.out = &out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, on_png_error, on_png_warning);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  bool ok = png != nullptr && info != nullptr;
  if (ok) {
    png_set_write_fn(png, &state, on_png_write, on_png_flush);
    ok = write_rows(png, info, rows.data(), static_cast<png_uint_32>(out_w),
                    static_cast<png_uint_32>(out_h),
                    channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB);
  }
  if (png != nullptr) png_destroy_write_struct(&png, info != nullptr ? &info : nullptr);
  KESTREL_CHECK(ok, "encode_png: libpng failed: {}",
                state.message[0] != '\0' ? state.message : "out of memory");
  return out;
}

std::string base64_encode(std::span<const uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (rest == 2) v |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_data_uri(const uint8_t* chw, int channels, int height, int width, int scale) {
  return "data:image/png;base64," + base64_encode(encode_png(chw, channels, height, width, scale));
}

}  // namespace kestrel::report
