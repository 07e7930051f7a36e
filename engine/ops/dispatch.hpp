#pragma once
// Runs a single-source element functor on the context's device: OpenMP loop on the CPU,
// grid-stride kernel on the context's stream on a GPU. Every functor launched here must be
// instantiated for CUDA in kernels/cuda/elementwise.cu (the CUDA build fails to link if not).
#include <cstdint>

#include "engine/runtime/context.hpp"
#include "kernels/cpu/parallel.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/launch.hpp"
#endif

namespace kestrel::ops::detail {

// work_per_element: the operations of one functor call where it is more than a few (a row
// functor's row length); the CPU runs launches with little work in all on the calling thread.
template <class Functor>
void launch_elementwise(const Context& ctx, int64_t n, const Functor& functor,
                        int64_t work_per_element = 1) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    cuda::launch(n, functor, ctx.stream());
    return;
  }
#endif
  (void)ctx;
  cpu::launch(n, functor, work_per_element);
}

}  // namespace kestrel::ops::detail
