// Writes the seed corpus of fuzz_image into the folder given: small PNGs and JPEGs in the
// layouts the reader handles (interlaced RGBA, 4-bit palette with transparency, 16-bit gray
// with a transparent value, baseline gray and progressive RGB JPEG), written by libpng and
// libjpeg through the unit tests' writers. Run by scripts/fuzz.sh.
#include <cstdio>
#include <string>

#include "tests/engine/image_test_files.hpp"

int main(int argc, char** argv) {
  using kestrel::test::JpegImage;
  using kestrel::test::PngImage;
  if (argc != 2) {
    std::fprintf(stderr, "usage: image_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = true;

  PngImage rgba;
  rgba.width = 3;
  rgba.height = 2;
  rgba.colour_type = PNG_COLOR_TYPE_RGB_ALPHA;
  rgba.interlaced = true;
  for (int i = 0; i < 24; ++i) rgba.samples.push_back(static_cast<uint8_t>(i * 37));
  ok &= kestrel::test::write_png_or_fail(dir + "/rgba-interlaced.png", rgba);

  PngImage palette;
  palette.width = 4;
  palette.height = 2;
  palette.bit_depth = 4;
  palette.colour_type = PNG_COLOR_TYPE_PALETTE;
  palette.palette = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}};
  palette.palette_alpha = {0, 128};
  palette.samples = {0x01, 0x20, 0x12, 0x00};
  ok &= kestrel::test::write_png_or_fail(dir + "/palette.png", palette);

  PngImage deep;
  deep.width = 2;
  deep.height = 2;
  deep.bit_depth = 16;
  deep.transparent_gray = 0x1234;
  deep.samples = {0x12, 0x34, 0xff, 0xff, 0x00, 0x01, 0x80, 0x00};
  ok &= kestrel::test::write_png_or_fail(dir + "/gray16.png", deep);

  JpegImage gray;
  gray.width = 8;
  gray.height = 8;
  gray.quality = 50;
  for (int i = 0; i < 64; ++i) gray.samples.push_back(static_cast<uint8_t>(i * 4));
  ok &= kestrel::test::write_jpeg_or_fail(dir + "/gray.jpg", gray);

  JpegImage rgb;
  rgb.width = 16;
  rgb.height = 8;
  rgb.components = 3;
  rgb.colour_space = JCS_RGB;
  rgb.quality = 50;
  rgb.progressive = true;
  for (int i = 0; i < 384; ++i) rgb.samples.push_back(static_cast<uint8_t>(i * 7));
  ok &= kestrel::test::write_jpeg_or_fail(dir + "/rgb-progressive.jpg", rgb);

  if (!ok) std::fprintf(stderr, "image_seeds: cannot write the seeds into %s\n", dir.c_str());
  return ok ? 0 : 1;
}
