#include "tests/support/random.hpp"

#include <chrono>
#include <cstdlib>
#include <cstdio>

namespace kestrel::test {

uint64_t test_seed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* s = std::getenv("KESTREL_TEST_SEED")) return std::strtoull(s, nullptr, 10);
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const uint64_t s = static_cast<uint64_t>(now);
    std::fprintf(stderr, "kestrel tests: KESTREL_TEST_SEED=%llu\n",
                 static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

Tensor random_tensor(const Shape& shape, std::mt19937_64& gen, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(gen);
  return t;
}

Tensor random_labels(int64_t n, int32_t classes, std::mt19937_64& gen) {
  Tensor t = Tensor::empty(Shape{n}, DType::I32);
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  int32_t* p = t.data<int32_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = dist(gen);
  return t;
}

std::vector<double> to_double(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<double>(p, p + t.numel());
}

}  // namespace kestrel::test
