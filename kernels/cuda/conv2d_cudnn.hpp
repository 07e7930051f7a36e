#pragma once
// Convolutions on cuDNN: forward, backward data, backward filter and backward bias. Every
// cuDNN call of kestrel lives in conv2d_cudnn.cpp. The first call for a problem autotunes
// (cudnnFind...Ex on the real buffers) and caches the fastest algorithm that fits the
// workspace limit, or the fastest deterministic one when determinism is asked for.
#include <cudnn.h>

#include <cstddef>

#include "kernels/common/conv2d_geometry.hpp"
#include "kernels/cuda/conv_algo_cache.hpp"

namespace kestrel::cuda {

// Hands out the device workspace (the engine's DeviceContext owns it).
struct WorkspaceSource {
  void* (*get)(void* owner, size_t bytes) = nullptr;
  void* owner = nullptr;
  void* operator()(size_t bytes) const { return get(owner, bytes); }
};

struct ConvOptions {
  int device = 0;
  bool tf32 = false;           // allow TF32 tensor cores (CUDNN_DEFAULT_MATH) or not (FMA)
  bool deterministic = false;  // only algorithms cuDNN reports as deterministic
  size_t workspace_limit = size_t{256} << 20;
};

void conv2d_forward(cudnnHandle_t handle, const WorkspaceSource& workspace,
                    const kernels::Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, const ConvOptions& options);
void conv2d_backward_data(cudnnHandle_t handle, const WorkspaceSource& workspace,
                          const kernels::Conv2dGeometry& g, const float* dy, const float* w,
                          float* dx, const ConvOptions& options);
void conv2d_backward_filter(cudnnHandle_t handle, const WorkspaceSource& workspace,
                            const kernels::Conv2dGeometry& g, const float* x, const float* dy,
                            float* dw, const ConvOptions& options);
void conv2d_backward_bias(cudnnHandle_t handle, const kernels::Conv2dGeometry& g, const float* dy,
                          float* db);

}  // namespace kestrel::cuda
