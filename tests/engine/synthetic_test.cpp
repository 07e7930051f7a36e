// Synthetic data: shapes, balanced labels, determinism (per seed, across thread counts, across
// index ranges), and that it is learnable: a nearest-class-mean classifier fit on a training
// split nearly always classifies a disjoint test split right, while single pixels overlap.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/data/synthetic.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/engine/data_test_files.hpp"

namespace kestrel {
namespace {

using data::make_synthetic;

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST(Synthetic, ShapesNamesAndBalancedLabels) {
  const data::ImageDataset ds = make_synthetic(103, 3, 5, 7, 10, 42);
  EXPECT_EQ(ds.name, "synthetic");
  EXPECT_EQ(ds.images.shape(), (Shape{103, 3, 5, 7}));
  EXPECT_EQ(ds.images.dtype(), DType::U8);
  EXPECT_EQ(ds.labels.shape(), Shape{103});
  EXPECT_EQ(ds.labels.dtype(), DType::I32);
  EXPECT_EQ(ds.classes, 10);
  ASSERT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[3], "3");
  std::vector<int> counts(10, 0);
  for (int32_t label : ds.labels.to_int_vector()) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++counts[static_cast<size_t>(label)];
  }
  for (int k = 0; k < 10; ++k) EXPECT_EQ(counts[static_cast<size_t>(k)], k < 3 ? 11 : 10) << k;
}

TEST(Synthetic, DeterministicPerSeed) {
  const data::ImageDataset a = make_synthetic(20, 1, 9, 9, 4, 7);
  const data::ImageDataset b = make_synthetic(20, 1, 9, 9, 4, 7);
  const data::ImageDataset c = make_synthetic(20, 1, 9, 9, 4, 8);
  EXPECT_TRUE(same_bytes(a.images, b.images));
  EXPECT_TRUE(same_bytes(a.labels, b.labels));
  EXPECT_FALSE(same_bytes(a.images, c.images));
}

TEST(Synthetic, SameBytesWhateverTheThreadCount) {
  cpu::set_num_threads(1);
  const data::ImageDataset one = make_synthetic(64, 3, 8, 8, 10, 5);
  cpu::set_num_threads(2);
  const data::ImageDataset two = make_synthetic(64, 3, 8, 8, 10, 5);
  cpu::set_num_threads(0);
  EXPECT_TRUE(same_bytes(one.images, two.images));
  EXPECT_TRUE(same_bytes(one.labels, two.labels));
}

// A test split is a later index range under the same seed: the same samples as in one long run.
TEST(Synthetic, IndexRangesAreSlicesOfOneSequence) {
  const data::ImageDataset all = make_synthetic(30, 2, 3, 5, 7, 9);
  const data::ImageDataset tail = make_synthetic(12, 2, 3, 5, 7, 9, 18);
  EXPECT_TRUE(same_bytes(all.images.slice(18, 30), tail.images));
  EXPECT_TRUE(same_bytes(all.labels.slice(18, 30), tail.labels));
}

TEST(Synthetic, LearnableButNoisy) {
  constexpr int kClasses = 10, kPixels = 28 * 28;
  const data::ImageDataset train = make_synthetic(500, 1, 28, 28, kClasses, 3);
  const data::ImageDataset test_split = make_synthetic(300, 1, 28, 28, kClasses, 3, 500);
  const uint8_t* train_px = train.images.data<uint8_t>();
  const int32_t* train_labels = train.labels.data<int32_t>();

  std::vector<double> means(kClasses * kPixels, 0.0);
  std::vector<int> counts(kClasses, 0);
  for (int64_t i = 0; i < train.size(); ++i) {
    ++counts[static_cast<size_t>(train_labels[i])];
    for (int j = 0; j < kPixels; ++j) {
      means[static_cast<size_t>(train_labels[i] * kPixels + j)] += train_px[i * kPixels + j];
    }
  }
  for (size_t k = 0; k < means.size(); ++k) means[k] /= counts[k / kPixels];

  const uint8_t* test_px = test_split.images.data<uint8_t>();
  const int32_t* test_labels = test_split.labels.data<int32_t>();
  int correct = 0;
  for (int64_t i = 0; i < test_split.size(); ++i) {
    int best = -1;
    double best_distance = 0.0;
    for (int k = 0; k < kClasses; ++k) {
      double d = 0.0;
      for (int j = 0; j < kPixels; ++j) {
        const double diff = test_px[i * kPixels + j] - means[static_cast<size_t>(k * kPixels + j)];
        d += diff * diff;
      }
      if (best < 0 || d < best_distance) best = k, best_distance = d;
    }
    correct += best == test_labels[i];
  }
  EXPECT_GE(correct, 297) << "of 300";

  // Noise: two samples of one class differ, by at most twice the noise amplitude per pixel.
  int differing = 0;
  for (int j = 0; j < kPixels; ++j) {
    const int diff = std::abs(train_px[j] - train_px[kClasses * kPixels + j]);
    EXPECT_LE(diff, 2 * data::kSyntheticNoise);
    differing += diff != 0;
  }
  EXPECT_GT(differing, kPixels / 2);
}

TEST(Synthetic, BadArguments) {
  EXPECT_EQ(test::error_message([] { make_synthetic(0, 1, 28, 28, 10, 0); }),
            "make_synthetic: sizes must be positive, got 0 images of 1 x 28 x 28");
  EXPECT_EQ(test::error_message([] { make_synthetic(10, 1, 28, 28, 0, 0); }),
            "make_synthetic: classes must be positive, got 0");
  EXPECT_EQ(test::error_message([] { make_synthetic(1 << 30, 3, 32, 32, 10, 0); }),
            "make_synthetic: 1073741824 images of 3 x 32 x 32 exceed 2147483648 bytes");
}

}  // namespace
}  // namespace kestrel
