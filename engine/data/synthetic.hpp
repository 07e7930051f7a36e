#pragma once
// Generated image-classification data that a model can learn: each class has a random
// prototype image and each sample is its class's prototype plus uniform noise. Trainers and
// benchmarks run on it without any files (CIFAR-shaped timing on a GPU machine, CI).
#include <cstdint>

#include "engine/data/dataset.hpp"

namespace kestrel::data {

// Noise amplitude: a sample's pixel is its prototype's pixel plus a uniform value in
// [-kSyntheticNoise, kSyntheticNoise], clamped to [0, 255]. Prototypes differ by ~85 per pixel
// on average, so classes overlap pixel by pixel but are separable over an image.
inline constexpr int kSyntheticNoise = 64;

// n samples of c x h x w in `classes` classes, named "synthetic". Sample i has label
// (first_index + i) % classes, so labels are balanced (counts differ by at most one), and its
// pixels depend only on (seed, first_index + i): a test split is another index range under the
// same seed, sharing the training split's prototypes. Deterministic per seed, whatever the
// thread count.
ImageDataset make_synthetic(int64_t n, int c, int h, int w, int classes, uint64_t seed,
                            int64_t first_index = 0);

}  // namespace kestrel::data
