#pragma once
// Byte copies between devices, and device-side fills. Copies that touch a GPU are queued on
// that GPU's compute stream, so they are ordered after the ops before them; those to or from
// the host also wait for completion.
#include <cstddef>
#include <cstdint>

#include "engine/core/device.hpp"

namespace kestrel {

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void fill_floats(float* dst, Device device, int64_t count, float value);
void zero_bytes(void* dst, Device device, size_t bytes);

}  // namespace kestrel
