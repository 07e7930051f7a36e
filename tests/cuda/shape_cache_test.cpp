// ShapeCache (plain C++, no GPU): one build per key, the same object on later calls, and a
// failed build leaves nothing behind.
#include "kernels/cuda/shape_cache.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "tests/support/random.hpp"

namespace kestrel::cuda {
namespace {

TEST(ShapeCache, BuildsOncePerKeyAndReturnsTheSameObject) {
  std::mt19937_64 gen(test::test_seed());
  ShapeCache<int64_t, 3> cache;
  int builds = 0;
  const auto make = [&](int64_t v) {
    return [&builds, v] {
      ++builds;
      return std::make_unique<int64_t>(v);
    };
  };
  const int64_t a = static_cast<int64_t>(gen() % 1000), b = a + 1;
  int64_t& first = cache.get({a, 2, 3}, make(10));
  int64_t& again = cache.get({a, 2, 3}, make(20));
  EXPECT_EQ(&first, &again);
  EXPECT_EQ(again, 10);
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(cache.get({b, 2, 3}, make(30)), 30);
  EXPECT_EQ(builds, 2);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(&cache.get({a, 2, 3}, make(40)), &first);  // still there after another insert
}

TEST(ShapeCache, FailedBuildIsNotCached) {
  ShapeCache<int, 1> cache;
  EXPECT_THROW(cache.get({7}, []() -> std::unique_ptr<int> { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.get({7}, [] { return std::make_unique<int>(3); }), 3);
}

}  // namespace
}  // namespace kestrel::cuda
