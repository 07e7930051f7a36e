// Embedded test images: base64 against RFC 4648's vectors, and PNGs that libpng decodes back to
// the same pixels, enlarged by whole pixels.
#include "engine/report/png_encode.hpp"

#include <gtest/gtest.h>
#include <png.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel::report {
namespace {

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

// Decodes with libpng's simplified API into interleaved 8-bit pixels of `format`.
std::vector<uint8_t> decode(const std::vector<uint8_t>& png, uint32_t format, int& width,
                            int& height) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  EXPECT_NE(png_image_begin_read_from_memory(&image, png.data(), png.size()), 0) << image.message;
  image.format = format;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  EXPECT_NE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr), 0) << image.message;
  width = static_cast<int>(image.width);
  height = static_cast<int>(image.height);
  return pixels;
}

TEST(ReportPng, Base64MatchesRfc4648) {
  EXPECT_EQ(base64_encode(bytes("")), "");
  EXPECT_EQ(base64_encode(bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(base64_encode(bytes("fooba")), "Zm9vYmE=");
  EXPECT_EQ(base64_encode(bytes("foobar")), "Zm9vYmFy");
  const std::vector<uint8_t> high = {0xff, 0xfe, 0x00, 0x3f};
  EXPECT_EQ(base64_encode(high), "//4APw==");
}

TEST(ReportPng, GreyImageRoundTripsEnlarged) {
  std::mt19937_64 gen(test::test_seed());
  std::uniform_int_distribution<int> pixel(0, 255);
  const int h = 7, w = 5, scale = 3;
  std::vector<uint8_t> image(static_cast<size_t>(h * w));
  for (auto& p : image) p = static_cast<uint8_t>(pixel(gen));
  const auto png = encode_png(image.data(), 1, h, w, scale);
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  int dw = 0, dh = 0;
  const auto out = decode(png, PNG_FORMAT_GRAY, dw, dh);
  ASSERT_EQ(dw, w * scale);
  ASSERT_EQ(dh, h * scale);
  for (int y = 0; y < dh; ++y)
    for (int x = 0; x < dw; ++x)
      ASSERT_EQ(out[static_cast<size_t>(y * dw + x)],
                image[static_cast<size_t>((y / scale) * w + x / scale)])
          << y << "," << x;
}

TEST(ReportPng, PlanarRgbBecomesInterleaved) {
  std::mt19937_64 gen(test::test_seed());
  std::uniform_int_distribution<int> pixel(0, 255);
  const int h = 4, w = 6, scale = 2;
  std::vector<uint8_t> planes(static_cast<size_t>(3 * h * w));
  for (auto& p : planes) p = static_cast<uint8_t>(pixel(gen));
  int dw = 0, dh = 0;
  const auto out = decode(encode_png(planes.data(), 3, h, w, scale), PNG_FORMAT_RGB, dw, dh);
  ASSERT_EQ(dw, w * scale);
  ASSERT_EQ(dh, h * scale);
  for (int y = 0; y < dh; ++y)
    for (int x = 0; x < dw; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(out[static_cast<size_t>((y * dw + x) * 3 + c)],
                  planes[static_cast<size_t>(c * h * w + (y / scale) * w + x / scale)]);
}

TEST(ReportPng, DataUriAndBadArguments) {
  const uint8_t pixel[1] = {200};
  const std::string uri = png_data_uri(pixel, 1, 1, 1, 1);
  EXPECT_EQ(uri.rfind("data:image/png;base64,iVBORw0KGgo", 0), 0u) << uri;
  EXPECT_THROW(encode_png(pixel, 2, 1, 1), Error);
  EXPECT_THROW(encode_png(pixel, 1, 0, 1), Error);
  EXPECT_THROW(encode_png(pixel, 1, 1, 1, 0), Error);
  EXPECT_THROW(encode_png(nullptr, 1, 1, 1), Error);
}

}  // namespace
}  // namespace kestrel::report
