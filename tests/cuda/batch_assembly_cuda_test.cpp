// The batch loader on the GPU against the CPU backend: same data set, options and epochs give
// bit-equal batches (images, labels, indices). Bit-equal is the right bar: each element is one
// byte -> float conversion, two IEEE divisions and one subtraction (nothing nvcc could contract
// into an FMA), and the crops and flips are integer functions of the same Philox words.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/data/loader.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

data::ImageDataset random_dataset(int64_t n, int64_t c, int64_t h, int64_t w,
                                  std::mt19937_64& gen) {
  data::ImageDataset d;
  d.name = "synthetic";
  d.images = Tensor::empty(Shape{n, c, h, w}, DType::U8);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t i = 0; i < d.images.numel(); ++i)
    d.images.data<uint8_t>()[i] = static_cast<uint8_t>(byte(gen));
  d.labels = test::random_labels(n, 10, gen);
  d.classes = 10;
  return d;
}

::testing::AssertionResult bit_equal(const Tensor& cpu, const Tensor& gpu) {
  if (cpu.shape() != gpu.shape())
    return ::testing::AssertionFailure() << cpu.str() << " vs " << gpu.str();
  const Tensor host = gpu.to(Device::cpu());
  const auto* a = static_cast<const uint8_t*>(cpu.raw_data());
  const auto* b = static_cast<const uint8_t*>(host.raw_data());
  if (std::memcmp(a, b, cpu.nbytes()) == 0) return ::testing::AssertionSuccess();
  const size_t element = dtype_size(cpu.dtype());
  for (size_t i = 0; i < cpu.nbytes(); ++i)
    if (a[i] != b[i])
      return ::testing::AssertionFailure() << "first difference in element " << i / element;
  return ::testing::AssertionFailure();
}

void expect_same_epochs(const data::ImageDataset& d, const data::LoaderOptions& options) {
  Context cpu, gpu(gpu0());
  data::BatchLoader on_cpu(d, cpu, options), on_gpu(d, gpu, options);
  EXPECT_EQ(on_gpu.batches_per_epoch(), on_cpu.batches_per_epoch());
  for (int64_t epoch : {0, 1, 5}) {
    on_cpu.start_epoch(epoch);
    on_gpu.start_epoch(epoch);
    data::Batch a, b;
    int64_t batches = 0;
    while (on_cpu.next(a)) {
      ASSERT_TRUE(on_gpu.next(b)) << "GPU epoch ended early at batch " << batches;
      EXPECT_EQ(b.images.device(), gpu0());
      SCOPED_TRACE(::testing::Message() << "epoch " << epoch << " batch " << batches);
      EXPECT_TRUE(bit_equal(a.images, b.images));
      EXPECT_TRUE(bit_equal(a.labels, b.labels));
      EXPECT_TRUE(bit_equal(a.indices, b.indices));
      ++batches;
    }
    EXPECT_FALSE(on_gpu.next(b));
    EXPECT_EQ(batches, on_cpu.batches_per_epoch());
  }
}

TEST(CudaBatchLoader, CifarTrainingBatchesBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  const auto d = random_dataset(1000, 3, 32, 32, gen);  // 7 full batches and one of 104
  expect_same_epochs(d, data::LoaderOptions::for_training(128, data::Normalization::cifar10(),
                                                          {.crop_padding = 4, .hflip = true},
                                                          gen()));
}

TEST(CudaBatchLoader, MnistBatchesBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 1);
  const auto d = random_dataset(777, 1, 28, 28, gen);
  expect_same_epochs(d, data::LoaderOptions::for_training(64, data::Normalization::mnist(), {},
                                                          gen(), /*drop_last=*/true));
  expect_same_epochs(d, data::LoaderOptions::for_evaluation(100, data::Normalization::mnist()));
}

TEST(CudaBatchLoader, OddShapesWithCropOnlyBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 2);
  const auto d = random_dataset(61, 2, 7, 13, gen);
  data::LoaderOptions o = data::LoaderOptions::for_training(
      9, {{0.3f, 0.6f}, {0.2f, 0.35f}}, {.crop_padding = 3, .hflip = false}, gen());
  expect_same_epochs(d, o);
}

}  // namespace
}  // namespace kestrel
