#pragma once
// Outputs poisoned before an op runs, so that an element the op never wrote fails the
// comparison (NaN never equals anything) and a tensor it must not touch can be checked bit for
// bit afterwards.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "engine/tensor/tensor.hpp"

namespace kestrel::test {

// A tensor of `shape` on `device`, every element NaN (or -1 for integers).
inline Tensor poisoned(const Shape& shape, Device device = Device::cpu(),
                       DType dtype = DType::F32) {
  Tensor t = Tensor::empty(shape, dtype, device);
  if (dtype == DType::F32) {
    t.fill(std::numeric_limits<float>::quiet_NaN());
  } else {
    Tensor host = Tensor::empty(shape, dtype);
    std::fill_n(static_cast<uint8_t*>(host.raw_data()), host.nbytes(), uint8_t{0xff});
    t.copy_from(host);
  }
  return t;
}

}  // namespace kestrel::test
