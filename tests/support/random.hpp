#pragma once
// Fresh random inputs for tests. Each call draws from a generator seeded by the test's own
// name plus a per-process counter, so inputs differ between tensors and tests but a failing
// test can be replayed (the seed is printed on failure via SCOPED_TRACE in the callers).
#include <cstdint>
#include <random>
#include <vector>

#include "engine/tensor/tensor.hpp"

namespace kestrel::test {

// A seed that changes per run unless KESTREL_TEST_SEED is set.
uint64_t test_seed();

// Host f32 tensor with values uniform in [lo, hi).
Tensor random_tensor(const Shape& shape, std::mt19937_64& gen, float lo = -1.0f, float hi = 1.0f);
// Host i32 tensor with values uniform in [0, classes).
Tensor random_labels(int64_t n, int32_t classes, std::mt19937_64& gen);

// Copies an f32 tensor to double for the float64 references.
std::vector<double> to_double(const Tensor& t);

}  // namespace kestrel::test
