// BatchLoader: each epoch covers the data set once in its documented order, batches follow the
// documented crop/flip rule and normalisation, evaluation never augments, and batches depend on
// (seed, epoch) alone: not on threads, batch size or restarts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/data/sampler.hpp"
#include "kernels/common/data_streams.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

using data::BatchLoader;
using data::LoaderOptions;

int32_t label_of(int64_t index) { return static_cast<int32_t>((index * 7 + 3) % 1000); }

// Random bytes; sample i has label label_of(i), so a batch's labels reveal its indices.
data::ImageDataset synthetic(int64_t n, int64_t c, int64_t h, int64_t w, std::mt19937_64& gen) {
  data::ImageDataset d;
  d.name = "synthetic";
  d.images = Tensor::empty(Shape{n, c, h, w}, DType::U8);
  std::uniform_int_distribution<int> byte(0, 255);
  uint8_t* p = d.images.data<uint8_t>();
  for (int64_t i = 0; i < d.images.numel(); ++i) p[i] = static_cast<uint8_t>(byte(gen));
  d.labels = Tensor::empty(Shape{n}, DType::I32);
  for (int64_t i = 0; i < n; ++i) d.labels.data<int32_t>()[i] = label_of(i);
  d.classes = 1000;
  return d;
}

struct EpochRecord {
  std::vector<std::vector<float>> images;
  std::vector<std::vector<int32_t>> labels, indices;
  std::vector<int64_t> sizes;
};

EpochRecord run_epoch(BatchLoader& loader, int64_t epoch) {
  EpochRecord r;
  loader.start_epoch(epoch);
  for (data::Batch batch; loader.next(batch);) {
    EXPECT_EQ(batch.index, static_cast<int64_t>(r.sizes.size()));
    EXPECT_EQ(batch.images.dim(0), batch.size);
    EXPECT_EQ(batch.labels.dim(0), batch.size);
    r.images.push_back(batch.images.to_vector());
    r.labels.push_back(batch.labels.to_int_vector());
    r.indices.push_back(batch.indices.to_int_vector());
    r.sizes.push_back(batch.size);
  }
  return r;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool same_batches(const EpochRecord& a, const EpochRecord& b) {
  if (a.sizes != b.sizes || a.labels != b.labels || a.indices != b.indices) return false;
  for (size_t k = 0; k < a.images.size(); ++k)
    if (!bitwise_equal(a.images[k], b.images[k])) return false;
  return true;
}

LoaderOptions cifar_training(int64_t batch, uint64_t seed) {
  return LoaderOptions::for_training(batch, data::Normalization::cifar10(),
                                     {.crop_padding = 2, .hflip = true}, seed);
}

// Element (c, r, q) of a sample's augmented image, from the documented rule with pixel-wise
// index arithmetic: crop/flip drawn from philox_block(seed, Augment stream of epoch, sample);
// alternating flips take epoch 0's coin and invert it on odd epochs; reflect padding mirrors
// an index outside [0, n) about the edge pixel (-1 -> 1, n -> n - 2).
double expected_pixel(const data::ImageDataset& d, const data::Normalization& norm, uint64_t seed,
                      int64_t epoch, const data::AugmentOptions& augment, int64_t sample, int64_t c,
                      int64_t r, int64_t q) {
  const int64_t h = d.height(), w = d.width(), padding = augment.crop_padding;
  const auto block = [&](int64_t e) {
    return rng::philox_block(seed, rng::data_stream(rng::DataPurpose::Augment, e),
                             static_cast<uint64_t>(sample));
  };
  const auto words = block(epoch);
  int64_t dy = 0, dx = 0;
  if (padding > 0) {
    dy = static_cast<int64_t>((static_cast<uint64_t>(words.v[0]) * (2 * padding + 1)) >> 32);
    dx = static_cast<int64_t>((static_cast<uint64_t>(words.v[1]) * (2 * padding + 1)) >> 32);
  }
  bool flip = augment.hflip && (words.v[2] & 0x80000000u) != 0;
  if (augment.hflip && augment.alternate_flip)
    flip = ((block(0).v[2] & 0x80000000u) != 0) != (epoch % 2 == 1);
  int64_t y = r + dy - padding, x = (flip ? w - 1 - q : q) + dx - padding;
  if (augment.padding_mode == data::PaddingMode::Reflect) {
    const auto mirror = [](int64_t i, int64_t n) {
      return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
    };
    y = mirror(y, h);
    x = mirror(x, w);
  }
  const double byte =
      (y < 0 || y >= h || x < 0 || x >= w)
          ? 0.0
          : d.images.data<uint8_t>()[((sample * d.channels() + c) * h + y) * w + x];
  const size_t k = norm.mean.size() == 1 ? 0 : static_cast<size_t>(c);
  return (byte / 255.0 - norm.mean[k]) / norm.std[k];
}

std::vector<double> expected_batch(const data::ImageDataset& d, const LoaderOptions& o,
                                   int64_t epoch, const std::vector<int32_t>& indices) {
  std::vector<double> out;
  for (int32_t s : indices)
    for (int64_t c = 0; c < d.channels(); ++c)
      for (int64_t r = 0; r < d.height(); ++r)
        for (int64_t q = 0; q < d.width(); ++q)
          out.push_back(expected_pixel(d, o.normalization, o.seed, epoch, o.augment, s, c, r, q));
  return out;
}

TEST(BatchLoader, EpochCoversTheDatasetOnceInItsPermutation) {
  std::mt19937_64 gen(test::test_seed());
  const auto d = synthetic(103, 3, 6, 5, gen);
  Context ctx;
  const LoaderOptions o = cifar_training(16, gen());
  BatchLoader loader(d, ctx, o);
  EXPECT_EQ(loader.batches_per_epoch(), 7);
  const auto r = run_epoch(loader, 4);
  EXPECT_EQ(r.sizes, (std::vector<int64_t>{16, 16, 16, 16, 16, 16, 7}));
  std::vector<int32_t> visited;
  for (size_t k = 0; k < r.indices.size(); ++k)
    for (size_t j = 0; j < r.indices[k].size(); ++j) {
      visited.push_back(r.indices[k][j]);
      EXPECT_EQ(r.labels[k][j], label_of(r.indices[k][j])) << "batch " << k << " row " << j;
    }
  EXPECT_EQ(visited, data::epoch_permutation(103, o.seed, 4));
}

TEST(BatchLoader, TrainingBatchesFollowTheDocumentedCropFlipRule) {
  std::mt19937_64 gen(test::test_seed() + 1);
  const auto d = synthetic(41, 3, 7, 9, gen);
  Context ctx;
  const LoaderOptions o = cifar_training(8, gen());
  BatchLoader loader(d, ctx, o);
  for (int64_t epoch : {0, 1, 6}) {
    const auto r = run_epoch(loader, epoch);
    for (size_t k = 0; k < r.images.size(); ++k)
      EXPECT_TRUE(test::all_close(expected_batch(d, o, epoch, r.indices[k]), r.images[k], 1e-7,
                                  1e-6))
          << "epoch " << epoch << " batch " << k;
  }
}

TEST(BatchLoader, ReflectPaddingAndAlternatingFlipsFollowTheDocumentedRule) {
  std::mt19937_64 gen(test::test_seed() + 11);
  const auto d = synthetic(41, 3, 7, 9, gen);
  Context ctx;
  // Padding 6: up to one short of the height, where reflection reaches the far edge.
  const LoaderOptions o = LoaderOptions::for_training(8, data::Normalization::cifar10(),
                                                      {.crop_padding = 6,
                                                       .hflip = true,
                                                       .padding_mode = data::PaddingMode::Reflect,
                                                       .alternate_flip = true},
                                                      gen());
  BatchLoader loader(d, ctx, o);
  for (int64_t epoch : {0, 1, 2, 7}) {
    const auto r = run_epoch(loader, epoch);
    for (size_t k = 0; k < r.images.size(); ++k)
      EXPECT_TRUE(
          test::all_close(expected_batch(d, o, epoch, r.indices[k]), r.images[k], 1e-7, 1e-6))
          << "epoch " << epoch << " batch " << k;
  }
}

TEST(BatchLoader, EvaluationBatchesArePlainNormalisedImagesInOrder) {
  std::mt19937_64 gen(test::test_seed() + 2);
  const auto d = synthetic(23, 3, 5, 4, gen);
  Context ctx;
  const LoaderOptions o = LoaderOptions::for_evaluation(10, data::Normalization::cifar10());
  BatchLoader loader(d, ctx, o);
  const auto r = run_epoch(loader, 0);
  ASSERT_EQ(r.sizes, (std::vector<int64_t>{10, 10, 3}));
  const int64_t per_image = 3 * 5 * 4;
  const uint8_t* bytes = d.images.data<uint8_t>();
  for (size_t k = 0; k < r.images.size(); ++k) {
    std::vector<double> expected;
    for (int64_t j = 0; j < r.sizes[k]; ++j) {
      const int64_t s = static_cast<int64_t>(k) * 10 + j;
      EXPECT_EQ(r.indices[k][static_cast<size_t>(j)], s);
      EXPECT_EQ(r.labels[k][static_cast<size_t>(j)], label_of(s));
      for (int64_t e = 0; e < per_image; ++e) {
        const auto c = static_cast<size_t>(e / 20);
        expected.push_back((bytes[s * per_image + e] / 255.0 - o.normalization.mean[c]) /
                           o.normalization.std[c]);
      }
    }
    EXPECT_TRUE(test::all_close(expected, r.images[k], 1e-7, 1e-6)) << "batch " << k;
  }
  // Another epoch is the same evaluation.
  EXPECT_TRUE(same_batches(r, run_epoch(loader, 9)));
}

TEST(BatchLoader, EvaluationRejectsAugmentationAndDropLast) {
  std::mt19937_64 gen(test::test_seed() + 3);
  const auto d = synthetic(4, 1, 3, 3, gen);
  Context ctx;
  LoaderOptions flip = LoaderOptions::for_evaluation(2, data::Normalization::mnist());
  flip.augment.hflip = true;
  try {
    BatchLoader loader(d, ctx, flip);
    FAIL() << "evaluation loader accepted hflip";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("BatchLoader: an evaluation loader must not augment"),
              std::string::npos)
        << e.message();
  }
  LoaderOptions crop = LoaderOptions::for_evaluation(2, data::Normalization::mnist());
  crop.augment.crop_padding = 4;
  EXPECT_THROW(BatchLoader(d, ctx, crop), Error);
  LoaderOptions drop = LoaderOptions::for_evaluation(3, data::Normalization::mnist());
  drop.drop_last = true;
  EXPECT_THROW(BatchLoader(d, ctx, drop), Error);
}

TEST(BatchLoader, DropLastDecidesThePartialBatch) {
  std::mt19937_64 gen(test::test_seed() + 4);
  const auto d = synthetic(10, 1, 4, 4, gen);
  Context ctx;
  for (bool drop_last : {false, true}) {
    BatchLoader loader(d, ctx,
                       LoaderOptions::for_training(4, data::Normalization::mnist(), {}, 5, drop_last));
    const auto r = run_epoch(loader, 0);
    EXPECT_EQ(loader.batches_per_epoch(), drop_last ? 2 : 3);
    const std::vector<int64_t> sizes = drop_last ? std::vector<int64_t>{4, 4} : std::vector<int64_t>{4, 4, 2};
    EXPECT_EQ(r.sizes, sizes);
    EXPECT_EQ(r.images.back().size(), static_cast<size_t>(r.sizes.back() * 16));
  }
  // A data set smaller than one batch: one partial batch, or none with drop_last.
  const auto tiny = synthetic(3, 1, 4, 4, gen);
  BatchLoader keep(tiny, ctx, LoaderOptions::for_training(8, data::Normalization::mnist()));
  EXPECT_EQ(keep.batches_per_epoch(), 1);
  EXPECT_EQ(run_epoch(keep, 0).sizes, std::vector<int64_t>{3});
  BatchLoader drop(tiny, ctx, LoaderOptions::for_training(8, data::Normalization::mnist(), {}, 0, true));
  EXPECT_EQ(drop.batches_per_epoch(), 0);
  EXPECT_TRUE(run_epoch(drop, 0).sizes.empty());
}

TEST(BatchLoader, SameSeedSameBatchesOtherEpochOrSeedOtherBatches) {
  std::mt19937_64 gen(test::test_seed() + 5);
  const auto d = synthetic(50, 3, 8, 8, gen);
  Context ctx;
  const uint64_t seed = gen();
  BatchLoader a(d, ctx, cifar_training(12, seed)), b(d, ctx, cifar_training(12, seed));
  BatchLoader c(d, ctx, cifar_training(12, seed + 1));
  const auto a3 = run_epoch(a, 3);
  EXPECT_TRUE(same_batches(a3, run_epoch(b, 3)));
  EXPECT_FALSE(same_batches(a3, run_epoch(b, 4)));
  EXPECT_FALSE(same_batches(a3, run_epoch(c, 3)));
  // Restarting an epoch replays it.
  (void)run_epoch(a, 7);
  EXPECT_TRUE(same_batches(a3, run_epoch(a, 3)));
}

TEST(BatchLoader, SampleAugmentationIndependentOfBatchSizeAndPosition) {
  std::mt19937_64 gen(test::test_seed() + 6);
  const auto d = synthetic(37, 3, 6, 6, gen);
  Context ctx;
  const uint64_t seed = gen();
  std::map<int32_t, std::vector<float>> by_sample;
  for (int64_t batch : {5, 16, 37}) {
    BatchLoader loader(d, ctx, cifar_training(batch, seed));
    const auto r = run_epoch(loader, 2);
    const size_t per_image = 3 * 6 * 6;
    for (size_t k = 0; k < r.images.size(); ++k)
      for (size_t j = 0; j < r.indices[k].size(); ++j) {
        const std::vector<float> image(r.images[k].begin() + static_cast<ptrdiff_t>(j * per_image),
                                       r.images[k].begin() + static_cast<ptrdiff_t>((j + 1) * per_image));
        const auto [it, first] = by_sample.emplace(r.indices[k][j], image);
        if (!first) {
          EXPECT_TRUE(bitwise_equal(it->second, image))
              << "sample " << r.indices[k][j] << " differs at batch size " << batch;
        }
      }
  }
  EXPECT_EQ(by_sample.size(), 37u);
}

TEST(BatchLoader, OneAndTwoThreadsGiveIdenticalBatches) {
  std::mt19937_64 gen(test::test_seed() + 7);
  // Batches of 64 x 3 x 16 x 16: enough work for assembly to run on both threads.
  const auto d = synthetic(300, 3, 16, 16, gen);
  Context ctx;
  BatchLoader loader(d, ctx, cifar_training(64, gen()));
  cpu::set_num_threads(1);
  const auto one = run_epoch(loader, 1);
  cpu::set_num_threads(2);
  const auto two = run_epoch(loader, 1);
  cpu::set_num_threads(0);
  EXPECT_TRUE(same_batches(one, two));
}

TEST(BatchLoader, WithoutShuffleVisitsInOrder) {
  std::mt19937_64 gen(test::test_seed() + 8);
  const auto d = synthetic(9, 1, 2, 2, gen);
  Context ctx;
  LoaderOptions o = LoaderOptions::for_training(4, data::Normalization::none());
  o.shuffle = false;
  BatchLoader loader(d, ctx, o);
  const auto r = run_epoch(loader, 3);
  EXPECT_EQ(r.indices, (std::vector<std::vector<int32_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8}}));
}

TEST(BatchLoader, BatchesAreViewsOfBuffersAllocatedOnce) {
  std::mt19937_64 gen(test::test_seed() + 9);
  const auto d = synthetic(20, 1, 3, 3, gen);
  Context ctx;
  BatchLoader loader(d, ctx, LoaderOptions::for_training(8, data::Normalization::mnist()));
  loader.start_epoch(0);
  data::Batch batch;
  ASSERT_TRUE(loader.next(batch));
  const void* images = batch.images.raw_data();
  const void* labels = batch.labels.raw_data();
  while (loader.next(batch)) {
    EXPECT_EQ(batch.images.raw_data(), images);
    EXPECT_EQ(batch.labels.raw_data(), labels);
  }
  EXPECT_EQ(batch.size, 4);
  EXPECT_EQ(batch.images.shape(), (Shape{4, 1, 3, 3}));
}

TEST(BatchLoader, RejectsBadDatasetsAndOptions) {
  std::mt19937_64 gen(test::test_seed() + 10);
  const auto d = synthetic(6, 3, 4, 4, gen);
  Context ctx;
  const auto expect_error = [&](const data::ImageDataset& set, const LoaderOptions& o,
                                const std::string& text) {
    try {
      BatchLoader loader(set, ctx, o);
      ADD_FAILURE() << "accepted; expected: " << text;
    } catch (const Error& e) {
      EXPECT_NE(e.message().find(text), std::string::npos) << e.message();
    }
  };
  expect_error(d, LoaderOptions::for_training(0, data::Normalization::cifar10()),
               "BatchLoader: batch_size must be >= 1, got 0");
  expect_error(d, LoaderOptions::for_training(2, {{0.1f, 0.2f}, {1.0f}}),
               "BatchLoader: normalization mean has 2 values but the images have 3 channels");
  expect_error(d, LoaderOptions::for_training(2, {{0.1f}, {0.0f}}),
               "BatchLoader: normalization std must be > 0, got 0");
  expect_error(d, LoaderOptions::for_training(2, {}, {.crop_padding = -1}),
               "BatchLoader: crop_padding must be >= 0, got -1");
  expect_error(d,
               LoaderOptions::for_training(
                   2, {}, {.crop_padding = 4, .padding_mode = data::PaddingMode::Reflect}),
               "BatchLoader: reflect padding 4 must be smaller than the images (4x4)");
  const auto five_channels = synthetic(2, 5, 2, 2, gen);
  expect_error(five_channels, LoaderOptions::for_training(2, {}),
               "BatchLoader: dataset 'synthetic' has 5 channels, the loader handles 1 to 4");
  data::ImageDataset short_labels = d;
  short_labels.labels = Tensor::empty(Shape{5}, DType::I32);
  expect_error(short_labels, LoaderOptions::for_training(2, {}),
               "BatchLoader: dataset 'synthetic' labels must be i32 [6], got i32[5]");
  data::ImageDataset bad_label = d;
  bad_label.labels = Tensor::from_vector(Shape{6}, std::vector<int32_t>{0, 1, 2, 3, 1, 0});
  bad_label.classes = 3;
  expect_error(bad_label, LoaderOptions::for_training(2, {}),
               "BatchLoader: dataset 'synthetic' label 3 of sample 3 is outside [0, 3)");
  data::ImageDataset float_images = d;
  float_images.images = Tensor::empty(Shape{6, 3, 4, 4});
  expect_error(float_images, LoaderOptions::for_training(2, {}),
               "BatchLoader: dataset 'synthetic' images must be u8 [N, C, H, W], got f32");

  BatchLoader loader(d, ctx, LoaderOptions::for_training(2, {}));
  data::Batch batch;
  try {
    (void)loader.next(batch);
    FAIL() << "next() before start_epoch accepted";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("BatchLoader: call start_epoch(epoch) before next()"),
              std::string::npos)
        << e.message();
  }
  EXPECT_THROW(loader.start_epoch(-1), Error);
}

}  // namespace
}  // namespace kestrel
