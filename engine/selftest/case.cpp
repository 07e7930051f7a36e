#include "engine/selftest/case.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace kestrel::selftest {

Tensor random_input(const Context& ctx, const Shape& shape, std::mt19937_64& gen, float lo,
                    float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(static_cast<size_t>(shape.numel()));
  for (float& v : values) v = dist(gen);
  return Tensor::from_vector(shape, values).to(ctx.device());
}

Tensor random_labels(const Context& ctx, int64_t n, int32_t classes, std::mt19937_64& gen) {
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> values(static_cast<size_t>(n));
  for (int32_t& v : values) v = dist(gen);
  return Tensor::from_vector(Shape{n}, values).to(ctx.device());
}

Tensor poisoned(const Context& ctx, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32, ctx.device());
  t.fill(std::numeric_limits<float>::quiet_NaN());
  return t;
}

Output output(std::string name, const Tensor& t) {
  if (t.dtype() == DType::F32) return {std::move(name), t.to_vector()};
  const std::vector<int32_t> ints = t.to_int_vector();
  return {std::move(name), std::vector<float>(ints.begin(), ints.end())};
}

}  // namespace kestrel::selftest
