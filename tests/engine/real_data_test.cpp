// The readers on the real data sets, when they are present (scripts/fetch-data.sh puts them in
// <repo>/data; KESTREL_DATA_DIR points elsewhere). Each suite skips, naming the fetch command,
// when its data set is missing.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/data/registry.hpp"
#include "tests/support/data_dir.hpp"

namespace kestrel {
namespace {

std::vector<int64_t> class_counts(const data::ImageDataset& ds) {
  std::vector<int64_t> counts(static_cast<size_t>(ds.classes), 0);
  for (int32_t label : ds.labels.to_int_vector()) ++counts.at(static_cast<size_t>(label));
  return counts;
}

void expect_mnist_shaped(const std::string& name, const std::string& dir) {
  const data::ImageDataset train = data::load_dataset(name, "train", dir);
  const data::ImageDataset test_split = data::load_dataset(name, "test", dir);
  EXPECT_EQ(train.images.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(test_split.images.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(train.labels.shape(), Shape{60000});
  EXPECT_EQ(test_split.labels.shape(), Shape{10000});
  EXPECT_EQ(train.classes, 10);
  // Every class occurs, and the counts add up.
  const auto counts = class_counts(test_split);
  for (int64_t c : counts) EXPECT_GT(c, 800);
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), 10000);
}

TEST(RealData, Mnist) {
  KESTREL_REQUIRE_DATA(dir, "mnist", "mnist");
  expect_mnist_shaped("mnist", dir);
  // Well-known facts: the first training digit is a 5, the first test digit a 7.
  const data::ImageDataset train = data::load_dataset("mnist", "train", dir);
  const data::ImageDataset test_split = data::load_dataset("mnist", "test", dir);
  EXPECT_EQ(train.labels.to_int_vector().front(), 5);
  EXPECT_EQ(test_split.labels.to_int_vector().front(), 7);
}

TEST(RealData, FashionMnist) {
  KESTREL_REQUIRE_DATA(dir, "fashion-mnist", "fashion-mnist");
  expect_mnist_shaped("fashion-mnist", dir);
  // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
  const data::ImageDataset test_split = data::load_dataset("fashion-mnist", "test", dir);
  for (int64_t c : class_counts(test_split)) EXPECT_EQ(c, 1000);
}

TEST(RealData, Cifar10) {
  KESTREL_REQUIRE_DATA(dir, "cifar-10-batches-bin", "cifar10");
  const data::ImageDataset train = data::load_dataset("cifar10", "train", dir);
  const data::ImageDataset test_split = data::load_dataset("cifar10", "test", dir);
  EXPECT_EQ(train.images.shape(), (Shape{50000, 3, 32, 32}));
  EXPECT_EQ(test_split.images.shape(), (Shape{10000, 3, 32, 32}));
  EXPECT_EQ(train.labels.to_int_vector().front(), 6);  // frog
  EXPECT_EQ(test_split.labels.to_int_vector().front(), 3);  // cat
  EXPECT_EQ(train.class_names.at(6), "frog");
  EXPECT_EQ(test_split.class_names.at(3), "cat");
  for (int64_t c : class_counts(test_split)) EXPECT_EQ(c, 1000);
  for (int64_t c : class_counts(train)) EXPECT_EQ(c, 5000);
}

}  // namespace
}  // namespace kestrel
