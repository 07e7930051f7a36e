#pragma once
// The CUDA twin of kestrel::cpu::launch: runs a single-source element functor over n elements
// with a grid-stride loop on `stream`. Declared here for host code compiled by the C++
// compiler; defined and explicitly instantiated for each functor in elementwise.cu, so adding
// a functor to the CUDA backend is one line there.
#include <driver_types.h>

#include <cstdint>

namespace kestrel::cuda {

template <class Functor>
void launch(int64_t n, const Functor& functor, cudaStream_t stream);

}  // namespace kestrel::cuda
