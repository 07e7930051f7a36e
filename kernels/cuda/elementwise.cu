// Every element functor the CUDA backend runs, instantiated once (see launch.hpp).
#include "kernels/common/activation.hpp"
#include "kernels/common/fill.hpp"
#include "kernels/cuda/launch.cuh"

KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ReluForward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::ReluBackward)
KESTREL_CUDA_INSTANTIATE_LAUNCH(kestrel::kernels::Fill)
