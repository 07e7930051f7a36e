#pragma once
// Where a tensor lives and an op runs: the host ("cpu") or one CUDA GPU ("cuda:N").
#include <string>
#include <string_view>

namespace kestrel {

enum class DeviceType : unsigned char { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::CPU, 0}; }
  static constexpr Device cuda(int i) { return {DeviceType::CUDA, i}; }

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;

  // "cpu", "cuda", "cuda:N". Throws kestrel::Error on anything else.
  static Device parse(std::string_view text);

  friend bool operator==(const Device&, const Device&) = default;
};

}  // namespace kestrel
