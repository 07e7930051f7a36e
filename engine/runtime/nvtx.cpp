#include "engine/runtime/nvtx.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include <nvtx3/nvToolsExt.h>
#endif

namespace kestrel {

#if defined(KESTREL_HAVE_CUDA)
NvtxRange::NvtxRange(const char* name) { nvtxRangePushA(name); }
NvtxRange::~NvtxRange() { nvtxRangePop(); }
#else
NvtxRange::NvtxRange(const char* /*name*/) {}
NvtxRange::~NvtxRange() = default;
#endif

}  // namespace kestrel
