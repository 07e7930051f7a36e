// Image files for `kestrel predict`: PNGs and JPEGs written here with libpng and libjpeg in
// every layout decode to the pixels written (exactly for PNG, within JPEG's loss); every bad
// file is a kestrel::Error naming it; resizing matches float64 references written here
// (bilinear when enlarging, area averaging when shrinking); colour conversion and
// normalisation follow the documented formulas; and an image of the training set's size gives
// the model exactly the input, and so the logits, of the training loader.
#include "engine/data/image_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/data/registry.hpp"
#include "models/registry.hpp"
#include "tests/engine/data_test_files.hpp"
#include "tests/engine/image_test_files.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using test::error_message;
using test::JpegImage;
using test::PngImage;

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& gen, int lo = 0, int hi = 255) {
  std::uniform_int_distribution<int> byte(lo, hi);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(byte(gen));
  return out;
}

test::Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return test::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

data::Image make_image(int64_t width, int64_t height, int64_t channels,
                       std::vector<uint8_t> pixels) {
  data::Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels = std::move(pixels);
  return image;
}

void expect_image(const data::Image& image, int64_t width, int64_t height, int64_t channels,
                  const std::vector<uint8_t>& pixels) {
  EXPECT_EQ(image.width, width);
  EXPECT_EQ(image.height, height);
  EXPECT_EQ(image.channels, channels);
  EXPECT_EQ(image.pixels, pixels);
}

// ---- PNG: every layout decodes exactly ---------------------------------------------------------

TEST(ImageFilePng, Gray8AndRgb8DecodeExactly) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  for (const int colour_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB}) {
    for (const auto& [w, h] : {std::pair{13u, 7u}, std::pair{1u, 1u}, std::pair{64u, 3u}}) {
      PngImage png;
      png.width = w;
      png.height = h;
      png.colour_type = colour_type;
      png.samples = random_bytes(png.row_bytes() * h, gen);
      const std::string path = dir.file("a.png");
      test::write_png(path, png);
      SCOPED_TRACE(::testing::Message() << "colour type " << colour_type << ", " << w << "x" << h);
      expect_image(data::read_image(path), w, h, png.channels(), png.samples);
    }
  }
}

TEST(ImageFilePng, InterlacedDecodesLikeProgressiveRows) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  for (const int colour_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB}) {
    PngImage png;
    png.width = 19;
    png.height = 11;
    png.colour_type = colour_type;
    png.interlaced = true;
    png.samples = random_bytes(png.row_bytes() * png.height, gen);
    test::write_png(dir.file("i.png"), png);
    expect_image(data::read_image(dir.file("i.png")), 19, 11, png.channels(), png.samples);
  }
}

// Alpha is composited over black: round(v * a / 255).
std::vector<uint8_t> over_black(const std::vector<uint8_t>& with_alpha, int colour_channels) {
  std::vector<uint8_t> out;
  const size_t stride = static_cast<size_t>(colour_channels) + 1;
  for (size_t p = 0; p < with_alpha.size() / stride; ++p) {
    const double alpha = with_alpha[p * stride + static_cast<size_t>(colour_channels)];
    for (size_t c = 0; c < static_cast<size_t>(colour_channels); ++c)
      out.push_back(static_cast<uint8_t>(std::lround(with_alpha[p * stride + c] * alpha / 255.0)));
  }
  return out;
}

TEST(ImageFilePng, AlphaIsCompositedOverBlack) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  for (const auto& [colour_type, colour_channels] :
       {std::pair{PNG_COLOR_TYPE_RGB_ALPHA, 3}, std::pair{PNG_COLOR_TYPE_GRAY_ALPHA, 1}}) {
    PngImage png;
    png.width = 17;
    png.height = 9;
    png.colour_type = colour_type;
    png.samples = random_bytes(png.row_bytes() * png.height, gen);
    // Fully opaque and fully transparent pixels among the random ones.
    png.samples[static_cast<size_t>(colour_channels)] = 255;
    png.samples[2 * static_cast<size_t>(colour_channels) + 1] = 0;
    test::write_png(dir.file("alpha.png"), png);
    const data::Image image = data::read_image(dir.file("alpha.png"));
    const std::vector<uint8_t> expected = over_black(png.samples, colour_channels);
    expect_image(image, 17, 9, colour_channels, expected);
    EXPECT_EQ(image.pixels[0], png.samples[0]);                        // opaque
    EXPECT_EQ(image.pixels[static_cast<size_t>(colour_channels)], 0);  // transparent
  }
}

TEST(ImageFilePng, PaletteExpandsToRgbWithItsTransparency) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  PngImage png;
  png.width = 21;
  png.height = 5;
  png.colour_type = PNG_COLOR_TYPE_PALETTE;
  const std::vector<uint8_t> colours = random_bytes(3 * 6, gen);
  for (size_t i = 0; i < 6; ++i)
    png.palette.push_back(png_color{colours[3 * i], colours[3 * i + 1], colours[3 * i + 2]});
  png.samples = random_bytes(png.row_bytes() * png.height, gen, 0, 5);
  std::vector<uint8_t> expected;
  for (uint8_t index : png.samples)
    for (size_t c = 0; c < 3; ++c) expected.push_back(colours[3 * index + c]);
  test::write_png(dir.file("palette.png"), png);
  expect_image(data::read_image(dir.file("palette.png")), 21, 5, 3, expected);

  // With a tRNS chunk: entries 0..2 get alpha 0, 128, 255 (the rest are opaque).
  png.palette_alpha = {0, 128, 255};
  std::vector<uint8_t> rgba;
  for (uint8_t index : png.samples) {
    for (size_t c = 0; c < 3; ++c) rgba.push_back(colours[3 * index + c]);
    rgba.push_back(index < 3 ? png.palette_alpha[index] : 255);
  }
  test::write_png(dir.file("palette-trns.png"), png);
  expect_image(data::read_image(dir.file("palette-trns.png")), 21, 5, 3, over_black(rgba, 3));
}

TEST(ImageFilePng, SixteenBitSamplesRoundToEightBits) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  std::uniform_int_distribution<int> sample16(0, 65535);
  for (const int colour_type : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB}) {
    PngImage png;
    png.width = 15;
    png.height = 6;
    png.bit_depth = 16;
    png.colour_type = colour_type;
    std::vector<uint8_t> expected;
    const size_t samples = png.row_bytes() * png.height / 2;
    for (size_t i = 0; i < samples; ++i) {
      // A few exact multiples of 257 (255 * 257 = 65535 is white) among random values.
      const int v = i < 4 ? static_cast<int>(i) * 85 * 257 : sample16(gen);
      png.samples.push_back(static_cast<uint8_t>(v >> 8));  // big-endian
      png.samples.push_back(static_cast<uint8_t>(v & 0xFF));
      expected.push_back(static_cast<uint8_t>(std::lround(v * 255.0 / 65535.0)));
    }
    test::write_png(dir.file("deep.png"), png);
    expect_image(data::read_image(dir.file("deep.png")), 15, 6, png.channels(), expected);
  }
}

TEST(ImageFilePng, LowBitDepthGrayScalesToFullRange) {
  test::TempDir dir;
  // 4-bit: v -> 17 v; 1-bit: v -> 255 v. Rows packed most significant bits first.
  PngImage four;
  four.width = 5;
  four.height = 1;
  four.bit_depth = 4;
  four.samples = {0x0F, 0x73, 0xA0};  // 0, 15, 7, 3, 10 (last nibble padding)
  test::write_png(dir.file("four.png"), four);
  expect_image(data::read_image(dir.file("four.png")), 5, 1, 1, {0, 255, 119, 51, 170});

  PngImage one;
  one.width = 10;
  one.height = 2;
  one.bit_depth = 1;
  one.samples = {0b10110000, 0b01000000, 0b00000001, 0b11000000};
  test::write_png(dir.file("one.png"), one);
  expect_image(data::read_image(dir.file("one.png")), 10, 2, 1,
               {255, 0, 255, 255, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255});
}

TEST(ImageFilePng, TransparentGrayValueBecomesBlack) {
  test::TempDir dir;
  PngImage png;
  png.width = 4;
  png.height = 1;
  png.samples = {10, 200, 77, 200};
  png.transparent_gray = 200;
  test::write_png(dir.file("trns.png"), png);
  expect_image(data::read_image(dir.file("trns.png")), 4, 1, 1, {10, 0, 77, 0});
}

// ---- JPEG: decodes within the codec's loss ----------------------------------------------------

// A smooth picture with mild noise (what JPEG is made for). At quality 95 the mean absolute
// error measured about 1.2 (gray) and 2.0 (RGB: 4:2:0 chroma), the worst sample 12 over 1000
// seeds.
std::vector<uint8_t> smooth_samples(uint32_t width, uint32_t height, int components,
                                    std::mt19937_64& gen) {
  std::uniform_real_distribution<double> noise(-4.0, 4.0);
  std::vector<uint8_t> out;
  for (uint32_t y = 0; y < height; ++y)
    for (uint32_t x = 0; x < width; ++x)
      for (int c = 0; c < components; ++c) {
        const double v =
            128.0 + 70.0 * std::sin(0.11 * x + 0.7 * c) * std::cos(0.07 * y - 0.3 * c) + noise(gen);
        out.push_back(static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)));
      }
  return out;
}

// Every sample within `max_error` and the mean absolute error under `mean_error`.
void expect_close_pixels(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected,
                         int max_error, double mean_error) {
  ASSERT_EQ(actual.size(), expected.size());
  int worst = 0;
  double total = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const int d = std::abs(int(actual[i]) - int(expected[i]));
    worst = std::max(worst, d);
    total += d;
  }
  EXPECT_LE(worst, max_error);
  EXPECT_LT(total / static_cast<double>(actual.size()), mean_error);
}

TEST(ImageFileJpeg, GrayAndRgbDecodeWithinTheCodecsLoss) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  for (const bool progressive : {false, true}) {
    for (const auto& [components, space] : {std::pair{1, JCS_GRAYSCALE}, std::pair{3, JCS_RGB}}) {
      JpegImage jpeg;
      jpeg.width = 45;
      jpeg.height = 29;
      jpeg.components = components;
      jpeg.colour_space = space;
      jpeg.progressive = progressive;
      jpeg.samples = smooth_samples(jpeg.width, jpeg.height, components, gen);
      test::write_jpeg(dir.file("photo.jpg"), jpeg);
      SCOPED_TRACE(::testing::Message()
                   << components << " components, progressive " << progressive);
      const data::Image image = data::read_image(dir.file("photo.jpg"));
      EXPECT_EQ(image.width, 45);
      EXPECT_EQ(image.height, 29);
      EXPECT_EQ(image.channels, components);
      expect_close_pixels(image.pixels, jpeg.samples, 16, 2.5);
    }
  }
}

TEST(ImageFileJpeg, AdobeCmykBecomesRgb) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  JpegImage jpeg;
  jpeg.width = 24;
  jpeg.height = 16;
  jpeg.components = 4;
  jpeg.colour_space = JCS_CMYK;
  jpeg.samples = smooth_samples(jpeg.width, jpeg.height, 4, gen);
  test::write_jpeg(dir.file("cmyk.jpg"), jpeg);
  // Adobe's inverted samples: r = c * k / 255.
  std::vector<uint8_t> expected;
  for (size_t p = 0; p < jpeg.samples.size() / 4; ++p)
    for (size_t c = 0; c < 3; ++c)
      expected.push_back(static_cast<uint8_t>(
          std::lround(jpeg.samples[4 * p + c] * double(jpeg.samples[4 * p + 3]) / 255.0)));
  const data::Image image = data::read_image(dir.file("cmyk.jpg"));
  EXPECT_EQ(image.channels, 3);
  expect_close_pixels(image.pixels, expected, 16, 2.5);
}

TEST(ImageFile, FormatComesFromTheBytesNotTheName) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  PngImage png;
  png.width = 6;
  png.height = 4;
  png.samples = random_bytes(24, gen);
  test::write_png(dir.file("really-a-png.jpg"), png);
  expect_image(data::read_image(dir.file("really-a-png.jpg")), 6, 4, 1, png.samples);
  JpegImage jpeg;
  jpeg.width = 8;
  jpeg.height = 8;
  jpeg.samples = smooth_samples(8, 8, 1, gen);
  test::write_jpeg(dir.file("really-a-jpeg.png"), jpeg);
  EXPECT_EQ(data::read_image(dir.file("really-a-jpeg.png")).width, 8);
}

// ---- Bad files: one kestrel::Error naming the file --------------------------------------------

void expect_error_naming(const std::string& path, const std::string& what) {
  const std::string message = error_message([&] { data::read_image(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find(what), std::string::npos) << message;
}

TEST(ImageFileErrors, MissingEmptyFolderAndNotAnImage) {
  test::TempDir dir;
  expect_error_naming(dir.file("missing.png"), "cannot open: No such file or directory");
  test::write_file(dir.file("empty.png"), test::Bytes{});
  expect_error_naming(dir.file("empty.png"), "is empty");
  expect_error_naming(dir.str(), "is a folder");
  test::write_file(dir.file("notes.png"), test::Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  expect_error_naming(dir.file("notes.png"), "is not a PNG or JPEG file");
  // A PNG signature cut short, and one off by a byte.
  test::write_file(dir.file("sig.png"), test::Bytes{0x89, 'P', 'N', 'G'});
  expect_error_naming(dir.file("sig.png"), "is not a PNG or JPEG file");
  test::write_file(dir.file("sig2.png"), test::Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, 0});
  expect_error_naming(dir.file("sig2.png"), "is not a PNG or JPEG file");
}

TEST(ImageFileErrors, TruncatedOrCorruptPng) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  PngImage png;
  png.width = 40;
  png.height = 30;
  png.colour_type = PNG_COLOR_TYPE_RGB;
  png.samples = random_bytes(png.row_bytes() * png.height, gen);
  test::write_png(dir.file("good.png"), png);
  const test::Bytes good = read_bytes(dir.file("good.png"));
  // Cut inside the header, inside the image data, and just before IEND's end.
  for (const size_t keep : {size_t{8}, size_t{20}, size_t{40}, good.size() / 2, good.size() - 5}) {
    const std::string path = dir.file("cut-" + std::to_string(keep) + ".png");
    test::write_file(path, test::Bytes(good.begin(), good.begin() + static_cast<long>(keep)));
    SCOPED_TRACE(keep);
    expect_error_naming(path, "PNG");
  }
  // One flipped byte in the image data: its chunk's CRC no longer matches.
  test::Bytes flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  test::write_file(dir.file("crc.png"), flipped);
  expect_error_naming(dir.file("crc.png"), "is a corrupt or truncated PNG");
  // A bad header: width 0.
  test::Bytes zero_width = good;
  std::fill(zero_width.begin() + 16, zero_width.begin() + 20, 0);
  test::write_file(dir.file("ihdr.png"), zero_width);
  expect_error_naming(dir.file("ihdr.png"), "is not a readable PNG");
}

TEST(ImageFileErrors, TruncatedOrCorruptJpeg) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  JpegImage jpeg;
  jpeg.width = 64;
  jpeg.height = 48;
  jpeg.components = 3;
  jpeg.colour_space = JCS_RGB;
  jpeg.samples = random_bytes(64 * 48 * 3, gen);  // noise: lots of entropy-coded data
  test::write_jpeg(dir.file("good.jpg"), jpeg);
  const test::Bytes good = read_bytes(dir.file("good.jpg"));
  ASSERT_NO_THROW(data::read_image(dir.file("good.jpg")));
  for (const size_t keep : {size_t{3}, size_t{100}, good.size() / 2, good.size() - 2}) {
    const std::string path = dir.file("cut-" + std::to_string(keep) + ".jpg");
    test::write_file(path, test::Bytes(good.begin(), good.begin() + static_cast<long>(keep)));
    SCOPED_TRACE(keep);
    expect_error_naming(path, "JPEG");
  }
  test::write_file(dir.file("half.jpg"),
                   test::Bytes(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  expect_error_naming(dir.file("half.jpg"),
                      "is a corrupt or truncated JPEG: Premature end of JPEG file");
  // The magic bytes and then garbage.
  test::write_file(dir.file("junk.jpg"), test::Bytes{0xFF, 0xD8, 0xFF, 0x00, 0x12, 0x34, 0x56});
  expect_error_naming(dir.file("junk.jpg"), "is not a readable JPEG");
}

TEST(ImageFileErrors, AbsurdDimensions) {
  test::TempDir dir;
  PngImage wide;
  wide.width = static_cast<uint32_t>(data::kMaxImageSide) + 1;
  wide.height = 1;
  wide.bit_depth = 1;
  wide.samples.assign(wide.row_bytes(), 0);
  test::write_png(dir.file("wide.png"), wide);
  expect_error_naming(dir.file("wide.png"), "16385 x 1 pixels exceeds the limit of 16384");
  JpegImage tall;
  tall.width = 8;
  tall.height = static_cast<uint32_t>(data::kMaxImageSide) + 1;
  tall.samples.assign(static_cast<size_t>(tall.width) * tall.height, 0);
  test::write_jpeg(dir.file("tall.jpg"), tall);
  expect_error_naming(dir.file("tall.jpg"), "8 x 16385 pixels exceeds the limit of 16384");
  // The largest side accepted.
  PngImage edge = wide;
  edge.width = static_cast<uint32_t>(data::kMaxImageSide);
  edge.samples.assign(edge.row_bytes(), 0xFF);
  test::write_png(dir.file("edge.png"), edge);
  EXPECT_EQ(data::read_image(dir.file("edge.png")).width, data::kMaxImageSide);
}

// ---- Resizing against float64 references ------------------------------------------------------

// Weight of source pixel i in output o along an axis of `in` -> `out` pixels, straight from
// the definitions (not the implementation's tap lists).
double reference_weight(int64_t in, int64_t out, int64_t o, int64_t i) {
  if (in == out) return i == o ? 1.0 : 0.0;
  const double scale = double(in) / double(out);
  if (out > in) {  // bilinear, align_corners=False, the position clamped into [0, in - 1]
    const double src = std::clamp((o + 0.5) * scale - 0.5, 0.0, double(in - 1));
    return std::max(0.0, 1.0 - std::abs(double(i) - src));
  }
  // area: the part of [i, i + 1) inside [o * scale, (o + 1) * scale), over the span
  const double overlap = std::min(double(i + 1), (o + 1) * scale) - std::max(double(i), o * scale);
  return std::max(0.0, overlap) / scale;
}

// Gray image -> [H, W] in [0, 255], every output a double sum over every source pixel.
std::vector<double> reference_resize(const data::Image& image, int64_t height, int64_t width) {
  std::vector<double> out(static_cast<size_t>(height * width), 0.0);
  for (int64_t oy = 0; oy < height; ++oy)
    for (int64_t ox = 0; ox < width; ++ox)
      for (int64_t y = 0; y < image.height; ++y)
        for (int64_t x = 0; x < image.width; ++x)
          out[static_cast<size_t>(oy * width + ox)] +=
              reference_weight(image.height, height, oy, y) *
              reference_weight(image.width, width, ox, x) * image.at(y, x, 0);
  return out;
}

std::vector<double> scaled(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}

struct ResizeCase {
  int64_t in_h, in_w, out_h, out_w;
};

void PrintTo(const ResizeCase& r, std::ostream* os) {
  *os << r.in_h << "x" << r.in_w << " -> " << r.out_h << "x" << r.out_w;
}

class ImageResizeTest : public ::testing::TestWithParam<ResizeCase> {};

TEST_P(ImageResizeTest, MatchesReference) {
  const ResizeCase r = GetParam();
  std::mt19937_64 gen(test::test_seed());
  const data::Image image =
      make_image(r.in_w, r.in_h, 1, random_bytes(static_cast<size_t>(r.in_h * r.in_w), gen));
  const Tensor input =
      data::to_model_input(image, 1, r.out_h, r.out_w, data::Normalization::none());
  EXPECT_EQ(input.shape(), (Shape{1, 1, r.out_h, r.out_w}));
  // Values are v / 255 in f32: within a few f32 rounding steps of the reference.
  EXPECT_TRUE(test::all_close(scaled(reference_resize(image, r.out_h, r.out_w), 1.0 / 255.0), input,
                              0.0, 3e-7));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ImageResizeTest,
                         ::testing::Values(ResizeCase{7, 5, 13,
                                                      11},          // enlarge, non-integer factors
                                           ResizeCase{4, 4, 8, 8},  // enlarge 2x
                                           ResizeCase{1, 1, 5, 3},  // a single pixel everywhere
                                           ResizeCase{37, 29, 8, 6},  // shrink, non-integer factors
                                           ResizeCase{84, 84, 28, 28},  // shrink 3x
                                           ResizeCase{9, 40, 20, 7},    // taller and narrower
                                           ResizeCase{28, 28, 28, 28},  // unchanged
                                           ResizeCase{5, 300, 1, 1}));  // everything into one pixel

TEST(ImageResize, KnownValues) {
  const auto values = [](const data::Image& image, int64_t h, int64_t w) {
    return scaled(
        test::to_double(data::to_model_input(image, 1, h, w, data::Normalization::none())), 255.0);
  };
  // Bilinear 2 -> 4 (what torch's interpolate gives): 0, 25, 75, 100.
  const std::vector<double> up = values(make_image(2, 1, 1, {0, 100}), 1, 4);
  EXPECT_TRUE(test::all_close({0, 25, 75, 100}, std::vector<float>(up.begin(), up.end()), 0, 1e-4));
  // Area 4 -> 2: pairs averaged; 3 -> 2: (0 + 90 / 2) / 1.5 = 30, (90 / 2 + 180) / 1.5 = 150.
  const std::vector<double> down = values(make_image(4, 1, 1, {10, 20, 30, 50}), 1, 2);
  EXPECT_TRUE(test::all_close({15, 40}, std::vector<float>(down.begin(), down.end()), 0, 1e-4));
  const std::vector<double> third = values(make_image(3, 1, 1, {0, 90, 180}), 1, 2);
  EXPECT_TRUE(test::all_close({30, 150}, std::vector<float>(third.begin(), third.end()), 0, 1e-4));
}

// A picture enlarged 3x by pixel replication shrinks back to exactly the original.
TEST(ImageResize, IntegerShrinkOfReplicatedPixelsIsExact) {
  std::mt19937_64 gen(test::test_seed());
  const data::Image small = make_image(10, 6, 3, random_bytes(10 * 6 * 3, gen));
  std::vector<uint8_t> big;
  for (int64_t y = 0; y < 18; ++y)
    for (int64_t x = 0; x < 30; ++x)
      for (int64_t c = 0; c < 3; ++c) big.push_back(small.at(y / 3, x / 3, c));
  const Tensor a = data::to_model_input(small, 3, 6, 10, data::Normalization::cifar10());
  const Tensor b =
      data::to_model_input(make_image(30, 18, 3, big), 3, 6, 10, data::Normalization::cifar10());
  EXPECT_EQ(std::memcmp(a.data<float>(), b.data<float>(), a.nbytes()), 0);
}

// ---- Colour conversion and normalisation -------------------------------------------------------

TEST(ImageModelInput, RgbToGrayIsBt601Luma) {
  std::mt19937_64 gen(test::test_seed());
  const data::Image rgb = make_image(9, 4, 3, random_bytes(9 * 4 * 3, gen));
  std::vector<double> expected;
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 9; ++x)
      expected.push_back(
          (0.299 * rgb.at(y, x, 0) + 0.587 * rgb.at(y, x, 1) + 0.114 * rgb.at(y, x, 2)) / 255.0);
  EXPECT_TRUE(test::all_close(
      expected, data::to_model_input(rgb, 1, 4, 9, data::Normalization::none()), 0.0, 1e-7));
}

TEST(ImageModelInput, GrayToRgbReplicates) {
  std::mt19937_64 gen(test::test_seed());
  const data::Image gray = make_image(7, 5, 1, random_bytes(35, gen));
  const std::vector<float> v =
      data::to_model_input(gray, 3, 5, 7, data::Normalization::none()).to_vector();
  for (size_t c = 0; c < 3; ++c)
    for (size_t p = 0; p < 35; ++p)
      ASSERT_EQ(v[c * 35 + p], static_cast<float>(gray.pixels[p]) / 255.0f) << c << " " << p;
}

TEST(ImageModelInput, NormalisesPerChannelInTheLoadersFloatOrder) {
  std::mt19937_64 gen(test::test_seed());
  const data::Image rgb = make_image(6, 3, 3, random_bytes(6 * 3 * 3, gen));
  const data::Normalization norm{{0.1f, 0.5f, 0.9f}, {0.2f, 0.3f, 0.4f}};
  const std::vector<float> v = data::to_model_input(rgb, 3, 3, 6, norm).to_vector();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t x = 0; x < 6; ++x) {
        const float unit = static_cast<float>(rgb.at(y, x, c)) / 255.0f;
        const float expected =
            (unit - norm.mean[static_cast<size_t>(c)]) / norm.std[static_cast<size_t>(c)];
        ASSERT_EQ(v[static_cast<size_t>((c * 3 + y) * 6 + x)], expected)
            << c << " " << y << " " << x;
      }
  // One mean and std for every channel.
  const std::vector<float> one = data::to_model_input(rgb, 3, 3, 6, {{0.5f}, {0.25f}}).to_vector();
  EXPECT_EQ(one[17 + 18], (static_cast<float>(rgb.at(2, 5, 1)) / 255.0f - 0.5f) / 0.25f);
}

TEST(ImageModelInput, InvertFlipsEverySample) {
  data::Image image = make_image(3, 1, 1, {0, 100, 255});
  data::invert_image(image);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 155, 0}));
}

TEST(ImageModelInput, BadArgumentsAreErrors) {
  const data::Image gray = make_image(2, 2, 1, {1, 2, 3, 4});
  const auto none = data::Normalization::none();
  EXPECT_EQ(error_message([&] { data::to_model_input(gray, 2, 4, 4, none); }),
            "to_model_input: the model takes 2 channels; expected 1 (gray) or 3 (RGB)");
  EXPECT_EQ(error_message([&] { data::to_model_input(gray, 1, 0, 4, none); }),
            "to_model_input: model input 0 x 4 is not in [1, 16384] per side");
  EXPECT_EQ(error_message([&] {
              data::to_model_input(gray, 3, 4, 4, {{0.1f, 0.2f}, {1.0f}});
            }),
            "to_model_input: normalization has 2 means and 1 stds; expected 1 or 3 each");
  EXPECT_EQ(error_message([&] {
              data::to_model_input(gray, 1, 4, 4, {{0.0f}, {0.0f}});
            }),
            "to_model_input: normalization std must be positive and finite, got 0");
  EXPECT_EQ(error_message([&] {
              data::to_model_input(make_image(2, 2, 1, {1, 2, 3}), 1, 4, 4, none);
            }),
            "to_model_input: malformed image (2 x 2 x 1 with 3 bytes)");
}

// ---- End to end: a PNG of a data-set image gives the model the loader's input -----------------

// The data folder as tests/engine/real_data_test.cpp finds it, or "".
std::string find_data_dir(const std::string& folder) {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("KESTREL_DATA_DIR"); env != nullptr && *env != '\0')
    candidates.emplace_back(env);
  for (const char* relative : {"data", "../data", "../../data", "../../../data"})
    candidates.emplace_back(relative);
  candidates.push_back(std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                       "data");
  for (const auto& dir : candidates)
    if (std::filesystem::is_directory(dir / folder)) return dir.string();
  return {};
}

// Writes the first `n` images of the gray data set as PNGs (at their size, 3x enlarged by
// replication, and as RGB with equal channels), reads them back through to_model_input and
// checks that the inputs and a fixed-initialised LeNet-5's logits equal, bit for bit, those of
// the evaluation loader's first batch.
void expect_png_matches_loader(const data::ImageDataset& dataset, const std::string& name) {
  constexpr int64_t n = 8;
  const data::DatasetInfo info = data::dataset_info(name);
  ASSERT_EQ(info.channels, 1);
  ASSERT_EQ(dataset.height(), info.height);
  ASSERT_EQ(dataset.width(), info.width);
  const data::Normalization norm = data::dataset_normalization(name);
  Context ctx;
  data::BatchLoader loader(dataset, ctx, data::LoaderOptions::for_evaluation(n, norm));
  loader.start_epoch(0);
  data::Batch batch;
  ASSERT_TRUE(loader.next(batch));
  ASSERT_EQ(batch.indices.to_int_vector(), (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));

  auto graph =
      models::build_model("lenet5", {info.channels, info.height, info.width, info.classes});
  graph->build(ctx, n);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, 1234);
  const std::vector<float> expected_logits =
      graph->forward(ctx, batch.images, false, 0).to_vector();
  const std::vector<float> expected_input = batch.images.to_vector();

  test::TempDir dir;
  const int64_t h = info.height, w = info.width, plane = h * w;
  const uint8_t* pixels = dataset.images.data<uint8_t>();
  for (const int variant : {0, 1, 2}) {  // as is, 3x enlarged, RGB
    Tensor inputs = Tensor::empty(Shape{n, 1, h, w});
    for (int64_t i = 0; i < n; ++i) {
      PngImage png;
      const int64_t scale = variant == 1 ? 3 : 1;
      png.width = static_cast<uint32_t>(w * scale);
      png.height = static_cast<uint32_t>(h * scale);
      png.colour_type = variant == 2 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY;
      for (int64_t y = 0; y < h * scale; ++y)
        for (int64_t x = 0; x < w * scale; ++x)
          for (int c = 0; c < png.channels(); ++c)
            png.samples.push_back(pixels[i * plane + (y / scale) * w + x / scale]);
      const std::string path = dir.file(std::to_string(i) + ".png");
      test::write_png(path, png);
      const Tensor one = data::to_model_input(data::read_image(path), 1, h, w, norm);
      std::memcpy(inputs.data<float>() + i * plane, one.data<float>(), one.nbytes());
    }
    SCOPED_TRACE(variant);
    EXPECT_EQ(std::memcmp(inputs.data<float>(), expected_input.data(), inputs.nbytes()), 0);
    const std::vector<float> logits = graph->forward(ctx, inputs, false, 0).to_vector();
    EXPECT_EQ(logits, expected_logits);
  }
}

TEST(ImagePredictInput, SyntheticPngGivesTheLoadersLogits) {
  expect_png_matches_loader(data::load_dataset("synthetic", "test", ""), "synthetic");
}

TEST(ImagePredictInput, MnistPngGivesTheLoadersLogits) {
  const std::string dir = find_data_dir("mnist");
  if (dir.empty())
    GTEST_SKIP() << "data folder 'mnist' not found (KESTREL_DATA_DIR, ./data, ../data, the "
                    "source tree's data/): run scripts/fetch-data.sh mnist";
  expect_png_matches_loader(data::load_dataset("mnist", "test", dir), "mnist");
}

TEST(ImagePredictInput, DatasetInfoMatchesTheLoadedData) {
  const data::ImageDataset synthetic = data::load_dataset("synthetic", "test", "");
  const data::DatasetInfo info = data::dataset_info("synthetic");
  EXPECT_EQ((Shape{info.channels, info.height, info.width}),
            (Shape{synthetic.channels(), synthetic.height(), synthetic.width()}));
  EXPECT_EQ(info.classes, synthetic.classes);
  EXPECT_EQ(info.class_names, synthetic.class_names);
  EXPECT_EQ(data::dataset_info("mnist").class_names.front(), "0");
  EXPECT_EQ(data::dataset_info("fashion-mnist").class_names.back(), "Ankle boot");
  const data::DatasetInfo cifar = data::dataset_info("cifar10");
  EXPECT_EQ((Shape{cifar.channels, cifar.height, cifar.width}), (Shape{3, 32, 32}));
  EXPECT_EQ(cifar.class_names.at(3), "cat");
  EXPECT_EQ(error_message([] { data::dataset_info("svhn"); }),
            "unknown data set 'svhn': expected one of mnist, fashion-mnist, cifar10, synthetic");
}

}  // namespace
}  // namespace kestrel
