#pragma once
// NVTX ranges, so Nsight Systems shows kestrel's steps, layers and ops by name. A range costs
// a function-pointer check when no profiler is attached; CPU-only builds compile it away.
#include <string>

namespace kestrel {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name);
  explicit NvtxRange(const std::string& name) : NvtxRange(name.c_str()) {}
  ~NvtxRange();
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace kestrel
