#pragma once
// Element types a Tensor can hold. The CPU ops compute in f32; bf16/f16 are storage types for
// mixed precision on the GPU, i32 holds labels and argmax indices, u8 holds raw image bytes,
// f64 holds reduction partials.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kestrel {

enum class DType : uint8_t { F32, BF16, F16, I32, I64, U8, F64 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::F64: return 8;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::F64: return "f64";
  }
  return "?";
}

// The DType of a C++ element type, for typed access (Tensor::data<T>()).
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };
// bf16 is held as its 16 bits (kernels/common/bf16.hpp converts).
template <> struct dtype_of<uint16_t> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };

}  // namespace kestrel
