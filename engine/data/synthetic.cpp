#include "engine/data/synthetic.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/common/error.hpp"
#include "kernels/common/philox.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::data {
namespace {

// Philox streams under the data set's seed: one for the prototypes, one for the noise.
constexpr uint64_t kPrototypeStream = 0x5917'0000'0000'0001ull;
constexpr uint64_t kNoiseStream = 0x5917'0000'0000'0002ull;
constexpr int64_t kMaxSyntheticBytes = int64_t{1} << 31;


}  // namespace

ImageDataset make_synthetic(int64_t n, int c, int h, int w, int classes, uint64_t seed,
                            int64_t first_index) {
  KESTREL_CHECK(n > 0 && c > 0 && h > 0 && w > 0,
                "make_synthetic: sizes must be positive, got {} images of {} x {} x {}", n, c, h,
                w);
  KESTREL_CHECK(classes > 0, "make_synthetic: classes must be positive, got {}", classes);
  KESTREL_CHECK(first_index >= 0, "make_synthetic: first_index must be >= 0, got {}", first_index);
  const int64_t pixels = int64_t{c} * h * w;
  KESTREL_CHECK(pixels <= kMaxSyntheticBytes && n <= kMaxSyntheticBytes / pixels,
                "make_synthetic: {} images of {} x {} x {} exceed {} bytes", n, c, h, w,
                kMaxSyntheticBytes);

  ImageDataset dataset;
  dataset.name = "synthetic";
  dataset.classes = classes;
  for (int k = 0; k < classes; ++k) dataset.class_names.push_back(std::to_string(k));
  dataset.images = Tensor::empty(Shape{n, c, h, w}, DType::U8);
  dataset.labels = Tensor::empty(Shape{n}, DType::I32);
  uint8_t* images = dataset.images.data<uint8_t>();
  int32_t* labels = dataset.labels.data<int32_t>();

  // Prototype pixels: the top byte of word j of the prototype stream, per class.
  std::vector<uint8_t> prototypes(static_cast<size_t>(classes * pixels));
  for (size_t j = 0; j < prototypes.size(); ++j) {
    prototypes[j] = static_cast<uint8_t>(rng::philox_u32(seed, kPrototypeStream, j) >> 24);
  }

  // One independent image per index: bit-identical for any thread count. Pixel j of sample s
  // takes its noise from word j % 4 of noise block s * blocks_per_image + j / 4.
  const int64_t blocks_per_image = (pixels + 3) / 4;
  cpu::parallel_for(n, [&](int64_t i) {
    const int64_t sample = first_index + i;
    const int64_t label = sample % classes;
    labels[i] = static_cast<int32_t>(label);
    const uint8_t* prototype = prototypes.data() + label * pixels;
    uint8_t* image = images + i * pixels;
    for (int64_t b = 0; b < blocks_per_image; ++b) {
      const rng::Bits4 bits = rng::philox_block(
          seed, kNoiseStream, static_cast<uint64_t>(sample * blocks_per_image + b));
      for (int64_t j = 4 * b; j < std::min(pixels, 4 * b + 4); ++j) {
        const int noise =
            static_cast<int>(bits.v[j & 3] % (2 * kSyntheticNoise + 1)) - kSyntheticNoise;
        const int value = prototype[j] + noise;
        image[j] = static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
      }
    }
  });
  return dataset;
}

}  // namespace kestrel::data
