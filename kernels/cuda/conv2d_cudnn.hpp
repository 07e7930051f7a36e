#pragma once
// Convolutions on cuDNN: forward, backward data, backward filter and backward bias. Every
// cuDNN call of kestrel lives in conv2d_cudnn.cpp. The first call for a problem autotunes
// (cudnnFind...Ex on the real buffers) and caches the fastest algorithm that fits the
// workspace limit, or the fastest deterministic one when determinism is asked for.
// Operands are f32 NCHW, or with `bf16` 16-bit bfloat16 (f32 accumulation) in NCHW or, with
// `channels_last`, NHWC (filters KRSC): every x, w, y, dx, dy and dw pointer then holds bf16
// bits. The engine packs and unpacks them (engine/ops/bf16_operands.hpp).
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
  bool bf16 = false;           // bf16 operands and result, f32 accumulation, tensor cores
  bool channels_last = false;  // bf16 only: NHWC activations and KRSC filters
  size_t workspace_limit = size_t{256} << 20;
};

// `bias` (f32) only with f32 operands: a bf16 result gets its bias when it is unpacked.
void conv2d_forward(cudnnHandle_t handle, const WorkspaceSource& workspace,
                    const kernels::Conv2dGeometry& g, const void* x, const void* w,
                    const float* bias, void* y, const ConvOptions& options);
void conv2d_backward_data(cudnnHandle_t handle, const WorkspaceSource& workspace,
                          const kernels::Conv2dGeometry& g, const void* dy, const void* w, void* dx,
                          const ConvOptions& options);
void conv2d_backward_filter(cudnnHandle_t handle, const WorkspaceSource& workspace,
                            const kernels::Conv2dGeometry& g, const void* x, const void* dy,
                            void* dw, const ConvOptions& options);
void conv2d_backward_bias(cudnnHandle_t handle, const kernels::Conv2dGeometry& g, const float* dy,
                          float* db);

}  // namespace kestrel::cuda
