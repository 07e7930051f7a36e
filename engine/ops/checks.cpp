#include "engine/ops/checks.hpp"

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

void check_labels_in_range(std::string_view op, const Tensor& labels, int64_t classes) {
  const std::vector<int32_t> host = labels.to_int_vector();
  for (size_t r = 0; r < host.size(); ++r)
    KESTREL_CHECK(host[r] >= 0 && host[r] < classes,
                  "{}: label {} in row {} is out of range [0, {})", op, host[r], r, classes);
}

}  // namespace kestrel::ops::detail
