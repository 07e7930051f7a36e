#include "engine/ops/checks.hpp"

#include <cstdint>

namespace kestrel::ops::detail {

void check_tensor(std::string_view op, std::string_view name, const Tensor& t, const Context& ctx,
                  int ndim, DType dtype) {
  KESTREL_CHECK(t.defined(), "{}: {} is undefined", op, name);
  KESTREL_CHECK(t.dtype() == dtype, "{}: {} must be {}, got {}", op, name, dtype_name(dtype),
                t.str());
  KESTREL_CHECK(t.device() == ctx.device(), "{}: {} is on {} but the op runs on {}", op, name,
                t.device().str(), ctx.device().str());
  KESTREL_CHECK(ndim < 0 || t.ndim() == ndim, "{}: {} must have {} dimensions, got {}", op, name,
                ndim, t.shape().str());
}

void check_shape(std::string_view op, std::string_view name, const Tensor& t,
                 const Shape& expected) {
  KESTREL_CHECK(t.shape() == expected, "{}: {} has shape {}, expected {}", op, name,
                t.shape().str(), expected.str());
}

bool overlap(const Tensor& a, const Tensor& b) {
  if (a.nbytes() == 0 || b.nbytes() == 0 || a.device() != b.device()) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.raw_data()),
             b0 = reinterpret_cast<uintptr_t>(b.raw_data());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

void check_cross_entropy(std::string_view op, const Context& ctx, const Tensor& logits,
                         const Tensor& labels, const kernels::CrossEntropySpec& spec) {
  check_tensor(op, "logits", logits, ctx, 2);
  check_tensor(op, "labels", labels, ctx, 1, DType::I32);
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  KESTREL_CHECK(n > 0 && classes > 0, "{}: logits {} must have at least one row and one class", op,
                logits.shape().str());
  KESTREL_CHECK(labels.dim(0) == n, "{}: {} labels for {} rows of logits (labels {}, logits {})",
                op, labels.dim(0), n, labels.shape().str(), logits.shape().str());
  KESTREL_CHECK(spec.label_smoothing >= 0.0f && spec.label_smoothing <= 1.0f,
                "{}: label_smoothing must be in [0, 1], got {}", op, spec.label_smoothing);
  KESTREL_CHECK(spec.gradient_divisor == 0 || spec.gradient_divisor >= n,
                "{}: gradient_divisor {} must be 0 or at least the {} rows of the logits", op,
                spec.gradient_divisor, n);
}

void check_labels_in_range(std::string_view op, const Tensor& labels, int64_t classes) {
  const std::vector<int32_t> host = labels.to_int_vector();
  for (size_t r = 0; r < host.size(); ++r)
    KESTREL_CHECK(host[r] >= 0 && host[r] < classes,
                  "{}: label {} in row {} is out of range [0, {})", op, host[r], r, classes);
}

}  // namespace kestrel::ops::detail
