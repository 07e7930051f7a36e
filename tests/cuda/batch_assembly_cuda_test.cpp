// The batch loader on the GPU against the CPU backend: same data set, options and epochs give
// bit-equal batches (images, labels, indices). Bit-equal is the right bar: each element is one
// byte -> float conversion, two IEEE divisions and one subtraction (nothing nvcc could contract
// into an FMA), and the crops and flips are integer functions of the same Philox words (zero
// or reflect padding, random or alternating flips).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/ops/dispatch.hpp"
#include "kernels/common/batch_assembly.hpp"
#include "kernels/common/data_streams.hpp"
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

TEST(CudaBatchLoader, ReflectPaddingAndAlternatingFlipsBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 3);
  const auto d = random_dataset(1000, 3, 32, 32, gen);  // airbench's CIFAR-10 augmentation
  expect_same_epochs(d,
                     data::LoaderOptions::for_training(128, data::Normalization::cifar10(),
                                                       {.crop_padding = 4,
                                                        .hflip = true,
                                                        .padding_mode = data::PaddingMode::Reflect,
                                                        .alternate_flip = true},
                                                       gen()));
}

TEST(CudaBatchLoader, OddShapesWithReflectPaddingBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 4);
  const auto d = random_dataset(61, 2, 7, 13, gen);
  // Padding 6, one short of the height: reflection reaches the far edge.
  expect_same_epochs(
      d,
      data::LoaderOptions::for_training(
          9, {{0.3f, 0.6f}, {0.2f, 0.35f}},
          {.crop_padding = 6, .hflip = true, .padding_mode = data::PaddingMode::Reflect}, gen()));
  expect_same_epochs(d, data::LoaderOptions::for_training(
                            9, {{0.3f, 0.6f}, {0.2f, 0.35f}},
                            {.crop_padding = 0, .hflip = true, .alternate_flip = true}, gen()));
}

// The functors themselves on random reflect-padded geometries, crops smaller or larger than
// the image included (the loader only crops back to the image size): DrawCropFlip with
// alternating flips on an odd epoch, then AssembleBatch, on each device from the same inputs.
TEST(CudaBatchAssembly, ReflectPaddedRandomGeometriesBitEqualCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed() + 5);
  const auto uniform = [&](int64_t lo, int64_t hi) {  // in [lo, hi]
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen);
  };
  Context cpu, gpu(gpu0());
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n = uniform(1, 40), b = uniform(1, 40), c = uniform(1, 4);
    kernels::BatchGeometry g;
    g.channels = static_cast<int32_t>(c);
    g.height = static_cast<int32_t>(uniform(2, 16));
    g.width = static_cast<int32_t>(uniform(2, 16));
    g.padding = static_cast<int32_t>(uniform(1, std::min(g.height, g.width) - 1));
    g.out_height = static_cast<int32_t>(uniform(1, g.height + 2 * g.padding));
    g.out_width = static_cast<int32_t>(uniform(1, g.width + 2 * g.padding));
    g.pad_mode = kernels::PadMode::Reflect;
    SCOPED_TRACE(::testing::Message()
                 << "trial " << trial << ": " << g.height << "x" << g.width << " P" << g.padding
                 << " -> " << g.out_height << "x" << g.out_width);
    Tensor images = Tensor::empty(Shape{n, c, g.height, g.width}, DType::U8);
    for (int64_t i = 0; i < images.numel(); ++i)
      images.data<uint8_t>()[i] = static_cast<uint8_t>(uniform(0, 255));
    std::vector<int32_t> picks(static_cast<size_t>(b));
    for (auto& p : picks) p = static_cast<int32_t>(uniform(0, n - 1));
    const Tensor indices = Tensor::from_vector(Shape{b}, picks);
    kernels::ChannelNormalization norm;
    for (int64_t k = 0; k < c; ++k) {
      norm.mean[k] = static_cast<float>(uniform(0, 100)) / 200.0f;
      norm.std[k] = static_cast<float>(uniform(20, 100)) / 200.0f;
    }
    kernels::AugmentSpec spec;
    spec.seed = gen();
    spec.epoch = 2 * uniform(0, 10) + 1;
    spec.stream = rng::data_stream(rng::DataPurpose::Augment, spec.epoch);
    spec.random_crop = spec.hflip = spec.alternate_flip = true;
    const Shape out_shape{b, c, g.out_height, g.out_width};
    Tensor outs[2], draws[2];
    for (int d = 0; d < 2; ++d) {
      const Context& ctx = d == 0 ? cpu : gpu;
      const Tensor im = images.to(ctx.device()), ix = indices.to(ctx.device());
      draws[d] = test::poisoned(Shape{n, 3}, ctx.device(), DType::I32);
      outs[d] = test::poisoned(out_shape, ctx.device());
      ops::detail::launch_elementwise(ctx, n,
                                      kernels::DrawCropFlip{spec, g, draws[d].data<int32_t>()});
      ops::detail::launch_elementwise(
          ctx, out_shape.numel(),
          kernels::AssembleBatch{g, norm, im.data<uint8_t>(), ix.data<int32_t>(),
                                 draws[d].data<int32_t>(), outs[d].data<float>()});
    }
    EXPECT_EQ(draws[0].to_int_vector(), draws[1].to_int_vector());
    EXPECT_TRUE(test::same_bits(outs[0], outs[1]));
  }
}

}  // namespace
}  // namespace kestrel
