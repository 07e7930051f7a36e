// CIFAR-10 PNG -> official binary conversion: small PNGs written here with libpng, every output
// byte checked against the record layout computed independently, and every bad input (wrong
// geometry or format, truncated or corrupt file, bad labels, missing files) a kestrel::Error
// that names the file and leaves no output behind.
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <csetjmp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "engine/data/cifar_png.hpp"
#include "kernels/common/error.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

namespace fs = std::filesystem;

struct PngSpec {
  uint32_t width = 1024;
  uint32_t height = 3;
  int bit_depth = 8;
  int colour_type = PNG_COLOR_TYPE_RGB;
  bool interlaced = false;
};

int channels_of(int colour_type) {
  switch (colour_type) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 0;
  }
}

size_t row_bytes(const PngSpec& spec) {
  return static_cast<size_t>(spec.width) * static_cast<size_t>(channels_of(spec.colour_type)) *
         static_cast<size_t>(spec.bit_depth / 8);
}

// Writes `pixels` (height rows of row_bytes(spec) bytes) as a PNG with libpng's low-level API.
// Returns false if libpng reports an error.
bool write_png_or_fail(const std::string& path, const PngSpec& spec, std::vector<png_bytep>& rows) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  volatile bool ok = false;
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_init_io(png, file);
    png_set_IHDR(png, info, spec.width, spec.height, spec.bit_depth, spec.colour_type,
                 spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    ok = true;
  }
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
  return ok;
}

void write_png(const std::string& path, const PngSpec& spec, std::vector<uint8_t>& pixels) {
  ASSERT_EQ(pixels.size(), row_bytes(spec) * spec.height);
  std::vector<png_bytep> rows(spec.height);
  for (uint32_t r = 0; r < spec.height; ++r) rows[r] = pixels.data() + r * row_bytes(spec);
  ASSERT_TRUE(write_png_or_fail(path, spec, rows)) << path;
}

std::vector<uint8_t> random_bytes(size_t n, std::mt19937_64& gen) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(byte(gen));
  return out;
}

std::vector<int32_t> random_labels(size_t n, std::mt19937_64& gen) {
  std::uniform_int_distribution<int32_t> label(0, 9);
  std::vector<int32_t> out(n);
  for (int32_t& l : out) l = label(gen);
  return out;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// The official record of image n: label, then for each colour plane c the 32x32 values in
// row-major (y, x) order, taken from PNG row n, pixel y*32+x, channel c.
std::vector<uint8_t> expected_records(const std::vector<uint8_t>& pixels,
                                      const std::vector<int32_t>& labels) {
  std::vector<uint8_t> out;
  for (size_t n = 0; n < labels.size(); ++n) {
    out.push_back(static_cast<uint8_t>(labels[n]));
    for (size_t c = 0; c < 3; ++c) {
      for (size_t y = 0; y < 32; ++y) {
        for (size_t x = 0; x < 32; ++x) {
          out.push_back(pixels[n * 3072 + (y * 32 + x) * 3 + c]);
        }
      }
    }
  }
  return out;
}

class CifarPngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("kestrel_cifar_png_") + info->name() + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  size_t files_in_dir() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  fs::path dir_;
};

// Expects `fn` to throw kestrel::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected kestrel::Error";
  } catch (const Error& e) {
    for (const std::string& part : parts) {
      EXPECT_NE(e.message().find(part), std::string::npos)
          << "message '" << e.message() << "' lacks '" << part << "'";
    }
  }
}

TEST_F(CifarPngTest, ConvertsEveryByteToTheOfficialRecordLayout) {
  std::mt19937_64 gen(test::test_seed());
  SCOPED_TRACE(::testing::Message() << "seed " << test::test_seed());
  for (uint32_t height : {1u, 3u, 7u}) {
    SCOPED_TRACE(::testing::Message() << "height " << height);
    const PngSpec spec{.height = height};
    std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * height, gen);
    const std::vector<int32_t> labels = random_labels(height, gen);
    write_png(path("batch.png"), spec, pixels);
    data::convert_cifar10_png_batch(path("batch.png"), labels, path("batch.bin"));
    const std::vector<uint8_t> actual = read_bytes(path("batch.bin"));
    ASSERT_EQ(actual.size(), height * 3073u);
    EXPECT_TRUE(actual == expected_records(pixels, labels));
    EXPECT_EQ(files_in_dir(), 2u) << "a temporary file was left behind";
  }
}

TEST_F(CifarPngTest, InterlacedPngGivesTheSameRecords) {
  std::mt19937_64 gen(test::test_seed());
  const PngSpec spec{.height = 5, .interlaced = true};
  std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * spec.height, gen);
  const std::vector<int32_t> labels = random_labels(spec.height, gen);
  write_png(path("batch.png"), spec, pixels);
  data::convert_cifar10_png_batch(path("batch.png"), labels, path("batch.bin"));
  EXPECT_TRUE(read_bytes(path("batch.bin")) == expected_records(pixels, labels));
}

TEST_F(CifarPngTest, ConvertsASliceOfTheLabels) {
  std::mt19937_64 gen(test::test_seed());
  const PngSpec spec{.height = 2};
  std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * spec.height, gen);
  const std::vector<int32_t> all_labels = {1, 2, 3, 4, 5, 6};
  write_png(path("batch.png"), spec, pixels);
  data::convert_cifar10_png_batch(path("batch.png"), std::span(all_labels).subspan(2, 2),
                                  path("batch.bin"));
  const std::vector<uint8_t> actual = read_bytes(path("batch.bin"));
  ASSERT_EQ(actual.size(), 2u * 3073u);
  EXPECT_EQ(actual[0], 3);
  EXPECT_EQ(actual[3073], 4);
}

TEST_F(CifarPngTest, ReplacesAnExistingOutputAndKeepsItOnFailure) {
  std::mt19937_64 gen(test::test_seed());
  write_text(path("batch.bin"), "old contents");
  const PngSpec spec{.height = 2};
  std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * spec.height, gen);
  write_png(path("batch.png"), spec, pixels);
  const std::vector<int32_t> labels = {0, 9};

  EXPECT_THROW(data::convert_cifar10_png_batch(path("batch.png"), std::vector<int32_t>{0, 9, 1},
                                               path("batch.bin")),
               Error);
  EXPECT_EQ(read_bytes(path("batch.bin")).size(), std::string("old contents").size());

  data::convert_cifar10_png_batch(path("batch.png"), labels, path("batch.bin"));
  EXPECT_TRUE(read_bytes(path("batch.bin")) == expected_records(pixels, labels));
  EXPECT_EQ(files_in_dir(), 2u);
}

// Each bad PNG: an Error naming the file and the defect, and no output file.
TEST_F(CifarPngTest, RejectsPngsOfTheWrongGeometryOrFormat) {
  std::mt19937_64 gen(test::test_seed());
  struct Case {
    const char* name;
    PngSpec spec;
    size_t labels;
    std::string defect;
  };
  const std::vector<Case> cases = {
      {"narrow.png", {.width = 1023, .height = 2}, 2, "1023 pixels wide"},
      {"wide.png", {.width = 2048, .height = 2}, 2, "2048 pixels wide"},
      {"gray.png", {.height = 2, .colour_type = PNG_COLOR_TYPE_GRAY}, 2, "colour type grayscale"},
      {"rgba.png", {.height = 2, .colour_type = PNG_COLOR_TYPE_RGB_ALPHA}, 2, "colour type RGBA"},
      {"deep.png", {.height = 2, .bit_depth = 16}, 2, "16-bit"},
      {"short.png", {.height = 2}, 3, "2 rows (images) but 3 labels"},
      {"long.png", {.height = 4}, 3, "4 rows (images) but 3 labels"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> pixels = random_bytes(row_bytes(c.spec) * c.spec.height, gen);
    write_png(path(c.name), c.spec, pixels);
    const std::vector<int32_t> labels = random_labels(c.labels, gen);
    expect_error([&] { data::convert_cifar10_png_batch(path(c.name), labels, path("out.bin")); },
                 {path(c.name), c.defect});
    EXPECT_FALSE(fs::exists(path("out.bin")));
  }
  EXPECT_EQ(files_in_dir(), cases.size()) << "a temporary file was left behind";
}

TEST_F(CifarPngTest, RejectsTruncatedCorruptAndMissingFiles) {
  std::mt19937_64 gen(test::test_seed());
  const PngSpec spec{.height = 3};
  std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * spec.height, gen);
  write_png(path("good.png"), spec, pixels);
  const std::vector<uint8_t> good = read_bytes(path("good.png"));
  const std::vector<int32_t> labels = random_labels(3, gen);

  // Cut inside the image data, and cut just before the final IEND chunk.
  for (size_t keep : {good.size() / 2, good.size() - 12}) {
    SCOPED_TRACE(keep);
    std::ofstream(path("cut.png"), std::ios::binary)
        .write(reinterpret_cast<const char*>(good.data()), static_cast<std::streamsize>(keep));
    expect_error([&] { data::convert_cifar10_png_batch(path("cut.png"), labels, path("out.bin")); },
                 {path("cut.png")});
  }
  // A flipped byte inside the image data fails its chunk's CRC.
  std::vector<uint8_t> corrupt = good;
  corrupt[good.size() / 2] ^= 0x5a;
  std::ofstream(path("corrupt.png"), std::ios::binary)
      .write(reinterpret_cast<const char*>(corrupt.data()),
             static_cast<std::streamsize>(corrupt.size()));
  expect_error([&] { data::convert_cifar10_png_batch(path("corrupt.png"), labels, path("out.bin")); },
               {path("corrupt.png"), "corrupt"});

  write_text(path("text.png"), "this is not a PNG file at all");
  expect_error([&] { data::convert_cifar10_png_batch(path("text.png"), labels, path("out.bin")); },
               {path("text.png"), "not a readable PNG"});

  expect_error([&] { data::convert_cifar10_png_batch(path("absent.png"), labels, path("out.bin")); },
               {path("absent.png"), "cannot open"});
  EXPECT_FALSE(fs::exists(path("out.bin")));
  EXPECT_EQ(files_in_dir(), 4u) << "a temporary file was left behind";
}

TEST_F(CifarPngTest, RejectsLabelsOutsideTheTenClasses) {
  std::mt19937_64 gen(test::test_seed());
  const PngSpec spec{.height = 2};
  std::vector<uint8_t> pixels = random_bytes(row_bytes(spec) * spec.height, gen);
  write_png(path("batch.png"), spec, pixels);
  for (int32_t bad : {10, -1}) {
    expect_error([&] {
      data::convert_cifar10_png_batch(path("batch.png"), std::vector<int32_t>{3, bad}, path("out.bin"));
    }, {path("batch.png"), std::to_string(bad), "index 1"});
  }
  EXPECT_FALSE(fs::exists(path("out.bin")));
}

TEST_F(CifarPngTest, ReadsLabelsJson) {
  write_text(path("labels.json"), "[6, 9, 9, 4, 1, 0]");
  EXPECT_EQ(data::read_cifar10_labels_json(path("labels.json")),
            (std::vector<int32_t>{6, 9, 9, 4, 1, 0}));
  write_text(path("empty.json"), "[]");
  EXPECT_TRUE(data::read_cifar10_labels_json(path("empty.json")).empty());
}

TEST_F(CifarPngTest, RejectsBadLabelsJson) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1, 10]", "label 10 at index 1"},
      {"[-1]", "label -1 at index 0"},
      {"[1, 2.5]", "label 2.5 at index 1"},
      {"[1, \"3\"]", "at index 1"},
      {"[18446744073709551615]", "at index 0"},
      {"{\"labels\": [1]}", "JSON array"},
      {"[1, 2", "not valid JSON"},
  };
  for (const auto& [text, defect] : cases) {
    SCOPED_TRACE(text);
    write_text(path("labels.json"), text);
    expect_error([&] { data::read_cifar10_labels_json(path("labels.json")); },
                 {path("labels.json"), defect});
  }
  expect_error([&] { data::read_cifar10_labels_json(path("absent.json")); },
               {path("absent.json"), "cannot open"});
}

TEST_F(CifarPngTest, PackageConversionChecksFolderAndLabelCounts) {
  expect_error([&] { data::convert_cifar10_package(path("no-such-package"), path("out")); },
               {path("no-such-package"), "does not exist"});
  fs::create_directories(path("pkg"));
  expect_error([&] { data::convert_cifar10_package(path("pkg"), path("out")); },
               {path("pkg/train_lables.json"), "cannot open"});
  write_text(path("pkg/train_lables.json"), "[1, 2, 3]");
  write_text(path("pkg/test_lables.json"), "[1]");
  expect_error([&] { data::convert_cifar10_package(path("pkg"), path("out")); },
               {path("pkg/train_lables.json"), "holds 3 labels; expected 50000"});
  EXPECT_FALSE(fs::exists(path("out")));
}

TEST(CifarClassNames, AreTheTenOfficialNamesInLabelOrder) {
  const std::vector<std::string> expected = {"airplane", "automobile", "bird", "cat", "deer",
                                             "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(data::cifar10_class_names(), expected);
}

}  // namespace
}  // namespace kestrel
