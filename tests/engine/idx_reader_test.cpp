// IDX reader: raw and gzip files and buffers, and every kind of damage a file can have, each
// with its exact message (file name, byte counts) and without allocating what a corrupt header
// claims.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <limits>

#include "engine/data/byte_source.hpp"
#include "engine/data/idx_reader.hpp"
#include "engine/data/mnist.hpp"
#include "tests/engine/data_test_files.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using data::parse_idx_images;
using data::parse_idx_labels;
using data::read_idx_images;
using data::read_idx_labels;
using test::Bytes;
using test::error_message;

TEST(WithThousands, GroupsDigitsInThrees) {
  EXPECT_EQ(data::with_thousands(0), "0");
  EXPECT_EQ(data::with_thousands(999), "999");
  EXPECT_EQ(data::with_thousands(1000), "1,000");
  EXPECT_EQ(data::with_thousands(60000), "60,000");
  EXPECT_EQ(data::with_thousands(7839998), "7,839,998");
  EXPECT_EQ(data::with_thousands(47040016), "47,040,016");
  EXPECT_EQ(data::with_thousands(std::numeric_limits<uint64_t>::max()),
            "18,446,744,073,709,551,615");
}

TEST(IdxReader, ReadsRawImages) {
  std::mt19937_64 gen(test::test_seed());
  test::TempDir dir;
  const Bytes pixels = test::random_bytes(3 * 5 * 7, gen);
  test::write_file(dir.file("images"), test::idx_images_file(3, 5, 7, pixels));
  const data::IdxImages images = read_idx_images(dir.file("images"));
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.rows, 5);
  EXPECT_EQ(images.cols, 7);
  EXPECT_EQ(images.pixels, pixels);
}

TEST(IdxReader, ReadsGzipImagesFromFileAndMemory) {
  std::mt19937_64 gen(test::test_seed() + 1);
  test::TempDir dir;
  const Bytes pixels = test::random_bytes(4 * 28 * 28, gen);
  const Bytes file = test::idx_images_file(4, 28, 28, pixels);
  test::write_gzip_file(dir.file("images.gz"), file);
  const data::IdxImages from_file = read_idx_images(dir.file("images.gz"));
  EXPECT_EQ(from_file.count, 4);
  EXPECT_EQ(from_file.rows, 28);
  EXPECT_EQ(from_file.cols, 28);
  EXPECT_EQ(from_file.pixels, pixels);
  const data::IdxImages from_memory = parse_idx_images(test::gzip_bytes(file), "images.gz");
  EXPECT_EQ(from_memory.pixels, pixels);
}

// Bigger than one input chunk (64 KiB) and one output chunk: exercises refills.
TEST(IdxReader, ReadsLargeGzipImages) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const Bytes pixels = test::random_bytes(300 * 28 * 28, gen);
  const data::IdxImages images =
      parse_idx_images(test::gzip_bytes(test::idx_images_file(300, 28, 28, pixels)), "big.gz");
  EXPECT_EQ(images.count, 300);
  EXPECT_EQ(images.pixels, pixels);
}

TEST(IdxReader, DetectsGzipByMagicNotByName) {
  std::mt19937_64 gen(test::test_seed() + 3);
  test::TempDir dir;
  const Bytes pixels = test::random_bytes(2 * 3 * 3, gen);
  const Bytes file = test::idx_images_file(2, 3, 3, pixels);
  test::write_file(dir.file("raw-named.gz"), file);
  test::write_gzip_file(dir.file("gzip-named-raw"), file);
  EXPECT_EQ(read_idx_images(dir.file("raw-named.gz")).pixels, pixels);
  EXPECT_EQ(read_idx_images(dir.file("gzip-named-raw")).pixels, pixels);
}

// `cat a.gz b.gz` is a valid gzip file holding both parts, as gunzip reads it.
TEST(IdxReader, ReadsMultiMemberGzip) {
  std::mt19937_64 gen(test::test_seed() + 4);
  const Bytes pixels = test::random_bytes(6 * 4 * 4, gen);
  const Bytes file = test::idx_images_file(6, 4, 4, pixels);
  const std::span<const uint8_t> all(file);
  Bytes joined = test::gzip_bytes(all.first(50));
  const Bytes second = test::gzip_bytes(all.subspan(50));
  joined.insert(joined.end(), second.begin(), second.end());
  EXPECT_EQ(parse_idx_images(joined, "joined.gz").pixels, pixels);
}

TEST(IdxReader, ReadsRawAndGzipLabels) {
  std::mt19937_64 gen(test::test_seed() + 5);
  test::TempDir dir;
  const Bytes labels = test::random_bytes(1001, gen, 9);
  test::write_file(dir.file("labels"), test::idx_labels_file(labels));
  test::write_gzip_file(dir.file("labels.gz"), test::idx_labels_file(labels));
  const std::vector<int32_t> expected(labels.begin(), labels.end());
  EXPECT_EQ(read_idx_labels(dir.file("labels"), 10), expected);
  EXPECT_EQ(read_idx_labels(dir.file("labels.gz"), 10), expected);
}

// The MNIST test-images size, 18 bytes short: the message the reader promises.
TEST(IdxReader, TruncatedFileNamesByteCounts) {
  test::TempDir dir;
  Bytes file = test::idx_images_file(10000, 28, 28, Bytes(10000 * 28 * 28, 7));
  file.resize(7839998);
  const std::string path = dir.file("t10k-images-idx3-ubyte");
  test::write_file(path, file);
  EXPECT_EQ(error_message([&] { read_idx_images(path); }),
            path + ": truncated at byte 7,839,998 of 7,840,016 (a 16-byte header and 10,000 "
                   "images of 28 x 28)");
}

TEST(IdxReader, TruncatedGzipContentNamesDecompressedByteCounts) {
  Bytes file = test::idx_images_file(3, 10, 10, Bytes(300, 1));
  file.resize(250);
  EXPECT_EQ(error_message([&] { parse_idx_images(test::gzip_bytes(file), "x.gz"); }),
            "x.gz: truncated at byte 250 of 316 after gzip decompression (a 16-byte header and "
            "3 images of 10 x 10)");
}

TEST(IdxReader, CutGzipStreamIsReported) {
  std::mt19937_64 gen(test::test_seed() + 6);
  Bytes gz = test::gzip_bytes(test::idx_images_file(50, 28, 28, test::random_bytes(50 * 784, gen)));
  gz.resize(gz.size() / 2);
  const std::string message = error_message([&] { parse_idx_images(gz, "cut.gz"); });
  EXPECT_EQ(message.rfind("cut.gz: gzip data ends early after ", 0), 0u) << message;
  EXPECT_NE(message.find("decompressed bytes (truncated file?)"), std::string::npos) << message;
}

TEST(IdxReader, CorruptGzipIsReported) {
  std::mt19937_64 gen(test::test_seed() + 7);
  Bytes gz = test::gzip_bytes(test::idx_images_file(20, 28, 28, test::random_bytes(20 * 784, gen)));
  // Damage the CRC-32 trailer: every byte inflates but the check fails at the end.
  gz[gz.size() - 6] ^= 0xff;
  const std::string message = error_message([&] { parse_idx_images(gz, "bad.gz"); });
  EXPECT_EQ(message.rfind("bad.gz: corrupt gzip data after ", 0), 0u) << message;
  EXPECT_NE(message.find("incorrect data check"), std::string::npos) << message;
}

TEST(IdxReader, GarbageAfterGzipStreamIsReported) {
  Bytes gz = test::gzip_bytes(test::idx_images_file(1, 2, 2, Bytes(4, 9)));
  gz.push_back(0x42);
  gz.push_back(0x42);
  const std::string message = error_message([&] { parse_idx_images(gz, "tail.gz"); });
  EXPECT_EQ(message.rfind("tail.gz: corrupt gzip data after 20 decompressed bytes", 0), 0u)
      << message;
}

TEST(IdxReader, WrongMagic) {
  const Bytes file = test::idx_header(0x00000804, {1, 2, 2, 2});
  EXPECT_EQ(error_message([&] { parse_idx_images(file, "images"); }),
            "images: magic 0x00000804, expected 0x00000803 (IDX image file)");
  EXPECT_EQ(error_message([&] { parse_idx_images(test::idx_labels_file({1, 2}), "labels"); }),
            "labels: magic 0x00000801, expected 0x00000803 (IDX image file): this is an IDX "
            "label file");
  EXPECT_EQ(error_message([&] {
              parse_idx_labels(test::idx_images_file(1, 1, 1, {0}), "images", 10);
            }),
            "images: magic 0x00000803, expected 0x00000801 (IDX label file): this is an IDX "
            "image file");
  const Bytes png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  EXPECT_EQ(error_message([&] { parse_idx_labels(png, "x.png", 10); }),
            "x.png: magic 0x89504E47, expected 0x00000801 (IDX label file): not an IDX file");
}

TEST(IdxReader, EmptyFile) {
  test::TempDir dir;
  test::write_file(dir.file("empty"), Bytes{});
  EXPECT_EQ(error_message([&] { read_idx_images(dir.file("empty")); }),
            dir.file("empty") +
                ": empty file, expected an IDX image file (magic 0x00000803) with a 16-byte "
                "header");
  EXPECT_EQ(error_message([&] { parse_idx_labels({}, "labels", 10); }),
            "labels: empty file, expected an IDX label file (magic 0x00000801) with an 8-byte "
            "header");
}

TEST(IdxReader, EmptyGzipFile) {
  EXPECT_EQ(error_message([&] { parse_idx_images(test::gzip_bytes({}), "empty.gz"); }),
            "empty.gz: empty file, expected an IDX image file (magic 0x00000803) with a 16-byte "
            "header");
}

TEST(IdxReader, TruncatedHeader) {
  const Bytes file = test::idx_header(0x00000803, {5, 28});
  EXPECT_EQ(error_message([&] { parse_idx_images(file, "images"); }),
            "images: truncated at byte 12 of 16 (an IDX image file (magic 0x00000803) with a "
            "16-byte header)");
  EXPECT_EQ(error_message([&] { parse_idx_images(Bytes{0, 0}, "images"); }),
            "images: truncated at byte 2 of 4 (an IDX image file (magic 0x00000803) with a "
            "16-byte header)");
}

TEST(IdxReader, HeaderOnly) {
  EXPECT_EQ(error_message([&] { parse_idx_images(test::idx_header(0x00000803, {2, 3, 3}), "h"); }),
            "h: truncated at byte 16 of 34 (a 16-byte header and 2 images of 3 x 3)");
  EXPECT_EQ(error_message([&] { parse_idx_labels(test::idx_header(0x00000801, {60000}), "l", 10); }),
            "l: truncated at byte 8 of 60,008 (an 8-byte header and 60,000 labels)");
}

TEST(IdxReader, TrailingBytes) {
  Bytes file = test::idx_images_file(2, 3, 3, Bytes(18, 5));
  file.insert(file.end(), {1, 2, 3, 4});
  EXPECT_EQ(error_message([&] { parse_idx_images(file, "extra"); }),
            "extra: 38 bytes, expected 34 (4 extra bytes after a 16-byte header and 2 images of "
            "3 x 3)");
  EXPECT_EQ(error_message([&] { parse_idx_images(test::gzip_bytes(file), "extra.gz"); }),
            "extra.gz: 38 bytes after gzip decompression, expected 34 (4 extra bytes after a "
            "16-byte header and 2 images of 3 x 3)");
}

TEST(IdxReader, ZeroSizesAreRejected) {
  EXPECT_EQ(error_message([&] { parse_idx_images(test::idx_header(0x00000803, {0, 28, 28}), "z"); }),
            "z: header says 0 images of 28 x 28");
  EXPECT_EQ(error_message([&] { parse_idx_images(test::idx_header(0x00000803, {5, 0, 28}), "z"); }),
            "z: header says 5 images of 0 x 28");
  EXPECT_EQ(error_message([&] { parse_idx_labels(test::idx_header(0x00000801, {0}), "z", 10); }),
            "z: header says 0 labels");
}

// Headers that claim gigabytes fail from the header or the real size alone: no allocation of
// what they claim (the test would take seconds and gigabytes otherwise).
TEST(IdxReader, AbsurdDimensionsFailFastWithoutAllocating) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(
      error_message([&] {
        parse_idx_images(test::idx_header(0x00000803, {0xffffffffu, 28, 28}), "huge");
      }),
      "huge: 4,294,967,295 images of 28 x 28 make 3,367,254,359,280 bytes, over the limit of "
      "2,147,483,648 (corrupt header?)");
  EXPECT_EQ(error_message([&] {
              parse_idx_images(test::idx_header(0x00000803, {1, 0xffffffffu, 0xffffffffu}), "wide");
            }),
            "wide: images of 4,294,967,295 x 4,294,967,295 pixels exceed the limit of 1,048,576 "
            "pixels per image (corrupt header?)");
  EXPECT_EQ(error_message([&] {
              parse_idx_labels(test::idx_header(0x00000801, {0xffffffffu}), "many", 10);
            }),
            "many: 4,294,967,295 labels, over the limit of 2,147,483,648 (corrupt header?)");
  // Within the limits but far larger than the data: the raw size is checked before reading...
  EXPECT_EQ(error_message([&] {
              parse_idx_images(test::idx_header(0x00000803, {2000000, 32, 32}), "claims");
            }),
            "claims: truncated at byte 16 of 2,048,000,016 (a 16-byte header and 2,000,000 "
            "images of 32 x 32)");
  // ...and gzip content, whose size is unknown, is read in bounded chunks.
  EXPECT_EQ(error_message([&] {
              parse_idx_images(test::gzip_bytes(test::idx_header(0x00000803, {2000000, 32, 32})),
                               "claims.gz");
            }),
            "claims.gz: truncated at byte 16 of 2,048,000,016 after gzip decompression (a "
            "16-byte header and 2,000,000 images of 32 x 32)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(IdxReader, LabelOutOfRange) {
  EXPECT_EQ(error_message([&] { parse_idx_labels(test::idx_labels_file({3, 9, 10, 1}), "l", 10); }),
            "l: label 10 at index 2 is outside [0, 10)");
  EXPECT_EQ(error_message([&] { parse_idx_labels(test::idx_labels_file({0, 1, 2}), "l", 2); }),
            "l: label 2 at index 2 is outside [0, 2)");
}

TEST(IdxReader, MissingFileAndDirectory) {
  test::TempDir dir;
  EXPECT_EQ(error_message([&] { read_idx_images(dir.file("nope")); }),
            dir.file("nope") + ": no such file");
  EXPECT_EQ(error_message([&] { read_idx_labels(dir.str(), 10); }),
            dir.str() + ": not a regular file");
}

// load_mnist_like: four small IDX files, one of them gzip, as a [N, 1, H, W] u8 dataset.
TEST(LoadMnistLike, ReadsBothSplitsRawOrGzip) {
  std::mt19937_64 gen(test::test_seed() + 8);
  test::TempDir dir;
  const Bytes train_pixels = test::random_bytes(5 * 6 * 4, gen);
  const Bytes train_labels = test::random_bytes(5, gen, 9);
  const Bytes test_pixels = test::random_bytes(3 * 6 * 4, gen);
  const Bytes test_labels = test::random_bytes(3, gen, 9);
  test::write_file(dir.file("train-images-idx3-ubyte"),
                   test::idx_images_file(5, 6, 4, train_pixels));
  test::write_gzip_file(dir.file("train-labels-idx1-ubyte.gz"),
                        test::idx_labels_file(train_labels));
  test::write_gzip_file(dir.file("t10k-images-idx3-ubyte.gz"),
                        test::idx_images_file(3, 6, 4, test_pixels));
  test::write_file(dir.file("t10k-labels-idx1-ubyte"), test::idx_labels_file(test_labels));

  const data::ImageDataset train =
      data::load_mnist_like(dir.str(), "train", "mnist", data::mnist_class_names());
  EXPECT_EQ(train.name, "mnist-train");
  EXPECT_EQ(train.images.shape(), (Shape{5, 1, 6, 4}));
  EXPECT_EQ(train.images.dtype(), DType::U8);
  EXPECT_EQ(train.labels.shape(), Shape{5});
  EXPECT_EQ(train.labels.dtype(), DType::I32);
  EXPECT_EQ(Bytes(train.images.data<uint8_t>(), train.images.data<uint8_t>() + 120), train_pixels);
  EXPECT_EQ(train.labels.to_int_vector(), std::vector<int32_t>(train_labels.begin(), train_labels.end()));
  EXPECT_EQ(train.classes, 10);
  EXPECT_EQ(train.class_names, data::mnist_class_names());

  const data::ImageDataset test_split =
      data::load_mnist_like(dir.str(), "test", "fashion-mnist", data::fashion_mnist_class_names());
  EXPECT_EQ(test_split.name, "fashion-mnist-test");
  EXPECT_EQ(test_split.size(), 3);
  EXPECT_EQ(Bytes(test_split.images.data<uint8_t>(), test_split.images.data<uint8_t>() + 72),
            test_pixels);
  EXPECT_EQ(test_split.labels.to_int_vector(),
            std::vector<int32_t>(test_labels.begin(), test_labels.end()));
  EXPECT_EQ(test_split.class_names.front(), "T-shirt/top");
  EXPECT_EQ(test_split.class_names.back(), "Ankle boot");
}

TEST(LoadMnistLike, MismatchedCounts) {
  test::TempDir dir;
  test::write_file(dir.file("train-images-idx3-ubyte"), test::idx_images_file(5, 2, 2, Bytes(20, 1)));
  test::write_file(dir.file("train-labels-idx1-ubyte"), test::idx_labels_file({1, 2, 3, 4}));
  EXPECT_EQ(error_message([&] {
              data::load_mnist_like(dir.str(), "train", "mnist", data::mnist_class_names());
            }),
            dir.str() + ": 5 images in train-images-idx3-ubyte but 4 labels in "
                        "train-labels-idx1-ubyte");
}

TEST(LoadMnistLike, MissingFileAndUnknownSplit) {
  test::TempDir dir;
  test::write_file(dir.file("t10k-images-idx3-ubyte"), test::idx_images_file(1, 2, 2, Bytes(4, 1)));
  EXPECT_EQ(error_message([&] {
              data::load_mnist_like(dir.str(), "test", "mnist", data::mnist_class_names());
            }),
            dir.str() + ": neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz found");
  EXPECT_EQ(error_message([&] {
              data::load_mnist_like(dir.str(), "valid", "mnist", data::mnist_class_names());
            }),
            "unknown split 'valid': expected train or test");
}

TEST(LoadMnistLike, LabelsCheckedAgainstClassCount) {
  test::TempDir dir;
  test::write_file(dir.file("train-images-idx3-ubyte"), test::idx_images_file(2, 1, 1, {0, 0}));
  test::write_file(dir.file("train-labels-idx1-ubyte"), test::idx_labels_file({0, 3}));
  EXPECT_EQ(error_message([&] {
              data::load_mnist_like(dir.str(), "train", "toy", {"a", "b", "c"});
            }),
            dir.file("train-labels-idx1-ubyte") + ": label 3 at index 1 is outside [0, 3)");
}

}  // namespace
}  // namespace kestrel
