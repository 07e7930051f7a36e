// Data sets by name: folders, the fetch hint when data is missing, normalisation statistics.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/data/registry.hpp"
#include "engine/data/synthetic.hpp"
#include "tests/engine/data_test_files.hpp"

namespace kestrel {
namespace {

using test::error_message;

TEST(DatasetRegistry, Names) {
  EXPECT_EQ(data::dataset_names(),
            (std::vector<std::string>{"mnist", "fashion-mnist", "cifar10", "synthetic"}));
}

TEST(DatasetRegistry, MissingFolderSaysHowToFetch) {
  test::TempDir dir;
  EXPECT_EQ(error_message([&] { data::load_dataset("mnist", "train", dir.str()); }),
            "MNIST not found in " + dir.file("mnist") + ": run scripts/fetch-data.sh mnist");
  EXPECT_EQ(error_message([&] { data::load_dataset("fashion-mnist", "test", dir.str()); }),
            "Fashion-MNIST not found in " + dir.file("fashion-mnist") +
                ": run scripts/fetch-data.sh fashion-mnist");
  EXPECT_EQ(error_message([&] { data::load_dataset("cifar10", "train", dir.str()); }),
            "CIFAR-10 not found in " + dir.file("cifar-10-batches-bin") +
                ": run scripts/fetch-data.sh cifar10");
}

TEST(DatasetRegistry, MissingFilesSayWhichAndHowToFetch) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("mnist"));
  test::write_file(dir.file("mnist/train-images-idx3-ubyte.gz"), test::Bytes{0x1f, 0x8b});
  EXPECT_EQ(error_message([&] { data::load_dataset("mnist", "train", dir.str()); }),
            "MNIST not found in " + dir.file("mnist") +
                " (missing train-labels-idx1-ubyte[.gz]): run scripts/fetch-data.sh mnist");
  std::filesystem::create_directories(dir.file("cifar-10-batches-bin"));
  test::write_file(dir.file("cifar-10-batches-bin/data_batch_2.bin"), test::Bytes{1});
  EXPECT_EQ(error_message([&] { data::load_dataset("cifar10", "train", dir.str()); }),
            "CIFAR-10 not found in " + dir.file("cifar-10-batches-bin") +
                " (missing data_batch_1.bin, data_batch_3.bin, data_batch_4.bin, "
                "data_batch_5.bin): run scripts/fetch-data.sh cifar10");
}

TEST(DatasetRegistry, LoadsFromTheNamedFolder) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("mnist"));
  test::write_file(dir.file("mnist/t10k-images-idx3-ubyte"),
                   test::idx_images_file(2, 28, 28, test::Bytes(2 * 784, 3)));
  test::write_gzip_file(dir.file("mnist/t10k-labels-idx1-ubyte.gz"), test::idx_labels_file({7, 2}));
  const data::ImageDataset ds = data::load_dataset("mnist", "test", dir.str());
  EXPECT_EQ(ds.name, "mnist-test");
  EXPECT_EQ(ds.images.shape(), (Shape{2, 1, 28, 28}));
  EXPECT_EQ(ds.labels.to_int_vector(), (std::vector<int32_t>{7, 2}));
}

TEST(DatasetRegistry, SyntheticSplitsShareOneSequence) {
  const data::ImageDataset train = data::load_dataset("synthetic", "train", "/nonexistent");
  const data::ImageDataset test_split = data::load_dataset("synthetic", "test", "/nonexistent");
  EXPECT_EQ(train.name, "synthetic-train");
  EXPECT_EQ(test_split.name, "synthetic-test");
  EXPECT_EQ(train.images.shape(), (Shape{data::kSyntheticTrainSize, 1, 28, 28}));
  EXPECT_EQ(test_split.images.shape(), (Shape{data::kSyntheticTestSize, 1, 28, 28}));
  const data::ImageDataset expected =
      data::make_synthetic(data::kSyntheticTestSize, 1, 28, 28, 10, data::kSyntheticSeed,
                           data::kSyntheticTrainSize);
  EXPECT_EQ(std::memcmp(test_split.images.raw_data(), expected.images.raw_data(),
                        expected.images.nbytes()),
            0);
}

TEST(DatasetRegistry, UnknownNameAndSplit) {
  EXPECT_EQ(error_message([] { data::load_dataset("imagenet", "train", "data"); }),
            "unknown data set 'imagenet': expected one of mnist, fashion-mnist, cifar10, synthetic");
  EXPECT_EQ(error_message([] { data::load_dataset("mnist", "validation", "data"); }),
            "unknown split 'validation': expected train or test");
  EXPECT_EQ(error_message([] { data::dataset_normalization("svhn"); }),
            "unknown data set 'svhn': expected one of mnist, fashion-mnist, cifar10, synthetic");
}

TEST(DatasetRegistry, NormalizationStatistics) {
  const auto mnist = data::dataset_normalization("mnist");
  EXPECT_EQ(mnist.mean, std::vector<float>{0.1307f});
  EXPECT_EQ(mnist.std, std::vector<float>{0.3081f});
  const auto fashion = data::dataset_normalization("fashion-mnist");
  EXPECT_EQ(fashion.mean, std::vector<float>{0.2860f});
  EXPECT_EQ(fashion.std, std::vector<float>{0.3530f});
  const auto cifar = data::dataset_normalization("cifar10");
  EXPECT_EQ(cifar.mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(cifar.std, (std::vector<float>{0.2470f, 0.2435f, 0.2616f}));
  const auto lab = data::lab_normalization(3);
  EXPECT_EQ(lab.mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(lab.std, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(data::dataset_normalization("synthetic").mean, std::vector<float>{0.5f});
  EXPECT_EQ(error_message([] { data::lab_normalization(0); }),
            "lab_normalization: channels must be positive, got 0");
}

}  // namespace
}  // namespace kestrel
