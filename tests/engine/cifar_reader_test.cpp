// CIFAR-10 binary reader: records split into labels and planar images, the split's files in
// order, and wrong sizes, record counts and labels with exact messages.
#include <gtest/gtest.h>

#include "engine/data/cifar10.hpp"
#include "engine/data/cifar_reader.hpp"
#include "tests/engine/data_test_files.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using data::parse_cifar_batch;
using test::Bytes;
using test::error_message;

TEST(CifarReader, SplitsRecordsIntoLabelsAndImages) {
  std::mt19937_64 gen(test::test_seed());
  const Bytes labels = test::random_bytes(3, gen, 9);
  const Bytes images = test::random_bytes(3 * 3072, gen);
  const data::CifarBatch batch = parse_cifar_batch(test::cifar_records(labels, images), "b", 3);
  EXPECT_EQ(batch.count(), 3);
  EXPECT_EQ(batch.labels, std::vector<int32_t>(labels.begin(), labels.end()));
  EXPECT_EQ(batch.images, images);
  // Without an expected count any whole number of records is accepted.
  EXPECT_EQ(parse_cifar_batch(test::cifar_records(labels, images), "b", std::nullopt).count(), 3);
}

TEST(CifarReader, ReadsFile) {
  std::mt19937_64 gen(test::test_seed() + 1);
  test::TempDir dir;
  const Bytes labels = test::random_bytes(4, gen, 9);
  const Bytes images = test::random_bytes(4 * 3072, gen);
  test::write_file(dir.file("data_batch_1.bin"), test::cifar_records(labels, images));
  const data::CifarBatch batch = data::read_cifar_batch(dir.file("data_batch_1.bin"), 4);
  EXPECT_EQ(batch.labels, std::vector<int32_t>(labels.begin(), labels.end()));
  EXPECT_EQ(batch.images, images);
}

TEST(CifarReader, WrongSize) {
  Bytes bytes = test::cifar_records({1, 2}, Bytes(2 * 3072, 0));
  bytes.push_back(0);
  EXPECT_EQ(error_message([&] { parse_cifar_batch(bytes, "b.bin", std::nullopt); }),
            "b.bin: 6,147 bytes is not a whole number of 3073-byte records (2 records and 1 "
            "byte over)");
  EXPECT_EQ(error_message([&] { parse_cifar_batch(bytes, "b.bin", 10000); }),
            "b.bin: 6,147 bytes, expected 30,730,000 (10,000 records of 3073 bytes)");
  bytes.pop_back();
  EXPECT_EQ(error_message([&] { parse_cifar_batch(bytes, "b.bin", 3); }),
            "b.bin: 6,146 bytes, expected 9,219 (3 records of 3073 bytes): it holds 2 records");
  EXPECT_EQ(error_message([&] { parse_cifar_batch({}, "e.bin", std::nullopt); }),
            "e.bin: empty file, expected records of 3073 bytes");
}

// The file size is checked before the file is read.
TEST(CifarReader, WrongFileSize) {
  test::TempDir dir;
  test::write_file(dir.file("test_batch.bin"), Bytes(3072, 1));
  EXPECT_EQ(error_message([&] { data::read_cifar_batch(dir.file("test_batch.bin"), 10000); }),
            dir.file("test_batch.bin") +
                ": 3,072 bytes, expected 30,730,000 (10,000 records of 3073 bytes)");
  EXPECT_EQ(error_message([&] { data::read_cifar_batch(dir.file("missing.bin"), 1); }),
            dir.file("missing.bin") + ": no such file");
}

TEST(CifarReader, BadLabel) {
  const Bytes bytes = test::cifar_records({9, 10, 0}, Bytes(3 * 3072, 0));
  EXPECT_EQ(error_message([&] { parse_cifar_batch(bytes, "b.bin", 3); }),
            "b.bin: record 1 has label 10, outside [0, 10)");
}

TEST(CifarReader, ClassNames) {
  test::TempDir dir;
  const std::vector<std::string> builtin = {"airplane", "automobile", "bird",  "cat",  "deer",
                                            "dog",      "frog",       "horse", "ship", "truck"};
  EXPECT_EQ(data::cifar10_class_names(dir.str()), builtin);
  // The official batches.meta.txt: one name a line, then blank lines.
  const std::string meta = "plane\nauto\nbird \ncat\r\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n\n";
  test::write_file(dir.file("batches.meta.txt"), Bytes(meta.begin(), meta.end()));
  const std::vector<std::string> names = data::cifar10_class_names(dir.str());
  EXPECT_EQ(names.size(), 10u);
  EXPECT_EQ(names[0], "plane");
  EXPECT_EQ(names[2], "bird");
  EXPECT_EQ(names[3], "cat");
  const std::string short_meta = "a\nb\nc\n";
  test::write_file(dir.file("batches.meta.txt"), Bytes(short_meta.begin(), short_meta.end()));
  EXPECT_EQ(error_message([&] { data::cifar10_class_names(dir.str()); }),
            dir.file("batches.meta.txt") + ": 3 class names, expected 10");
}

// Five training files and a test file of 2 records each: images in file order, planar CHW.
TEST(LoadCifar10, ReadsSplitsInFileOrder) {
  std::mt19937_64 gen(test::test_seed() + 2);
  test::TempDir dir;
  const Bytes labels = test::random_bytes(12, gen, 9);
  const Bytes images = test::random_bytes(12 * 3072, gen);
  const std::vector<std::string> files = {"data_batch_1.bin", "data_batch_2.bin",
                                          "data_batch_3.bin", "data_batch_4.bin",
                                          "data_batch_5.bin", "test_batch.bin"};
  for (size_t f = 0; f < files.size(); ++f) {
    const Bytes file_labels(labels.begin() + static_cast<std::ptrdiff_t>(2 * f),
                            labels.begin() + static_cast<std::ptrdiff_t>(2 * f + 2));
    const Bytes file_images(images.begin() + static_cast<std::ptrdiff_t>(2 * f * 3072),
                            images.begin() + static_cast<std::ptrdiff_t>((2 * f + 2) * 3072));
    test::write_file(dir.file(files[f]), test::cifar_records(file_labels, file_images));
  }
  const data::ImageDataset train = data::load_cifar10(dir.str(), "train", 2);
  EXPECT_EQ(train.name, "cifar10-train");
  EXPECT_EQ(train.images.shape(), (Shape{10, 3, 32, 32}));
  EXPECT_EQ(train.images.dtype(), DType::U8);
  EXPECT_EQ(Bytes(train.images.data<uint8_t>(), train.images.data<uint8_t>() + 10 * 3072),
            Bytes(images.begin(), images.begin() + 10 * 3072));
  EXPECT_EQ(train.labels.to_int_vector(), std::vector<int32_t>(labels.begin(), labels.begin() + 10));
  EXPECT_EQ(train.classes, 10);
  EXPECT_EQ(train.class_names.at(6), "frog");

  const data::ImageDataset test_split = data::load_cifar10(dir.str(), "test", 2);
  EXPECT_EQ(test_split.name, "cifar10-test");
  EXPECT_EQ(test_split.size(), 2);
  EXPECT_EQ(Bytes(test_split.images.data<uint8_t>(), test_split.images.data<uint8_t>() + 2 * 3072),
            Bytes(images.begin() + 10 * 3072, images.end()));
  EXPECT_EQ(test_split.labels.to_int_vector(),
            std::vector<int32_t>(labels.begin() + 10, labels.end()));

  // Official files hold 10,000 records: these 2-record files are rejected by default.
  EXPECT_EQ(error_message([&] { data::load_cifar10(dir.str(), "test"); }),
            dir.file("test_batch.bin") +
                ": 6,146 bytes, expected 30,730,000 (10,000 records of 3073 bytes): it holds 2 "
                "records");
}

TEST(LoadCifar10, MissingFileAndUnknownSplit) {
  test::TempDir dir;
  EXPECT_EQ(error_message([&] { data::load_cifar10(dir.str(), "train", 1); }),
            dir.file("data_batch_1.bin") + ": no such file");
  EXPECT_EQ(error_message([&] { data::load_cifar10(dir.str(), "val", 1); }),
            "unknown split 'val': expected train or test");
}

}  // namespace
}  // namespace kestrel
