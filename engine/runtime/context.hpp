#pragma once
// Context: what an op needs to run on one device. On the CPU that is the device and its memory
// pool; on a GPU also the device's streams, library handles and workspace (DeviceContext).
#include "engine/core/device.hpp"
#include "engine/tensor/tensor.hpp"

// cudaStream_t without the CUDA headers, so CPU-only code compiles against this header.
struct CUstream_st;

namespace kestrel {

class MemoryPool;
namespace cuda {
class DeviceContext;
}

// How convolutions and matrix products compute. The CPU backend is f32 (it emulates bf16
// operands when asked, docs/mixed-precision.md) and, by default, gives the same bits for any
// thread count.
struct MathOptions {
  bool tf32 = false;  // GPU: TF32 tensor cores for convolutions and matrix products
  // bf16 operands with f32 accumulation for convolutions and matrix products; weights,
  // activations, gradients and optimizer state stay f32 (the master copy). GPU: bf16 tensor
  // cores; CPU: operands rounded to bf16, then the f32 kernels (for accuracy, not speed).
  bool bf16 = false;
  bool channels_last = true;   // GPU, bf16: cuDNN convolutions on NHWC operands
  bool deterministic = false;  // only algorithms that give the same bits on every run
  // CPU: dense and grouped convolutions on oneDNN where the build has it (2-4x faster than
  // im2col + GEMM here; the same bits run to run at one thread count, not across thread
  // counts). Depthwise convolutions keep their direct loops. Off: im2col + GEMM.
  bool cpu_onednn = false;

  // What the commands use unless told otherwise: the options above, with oneDNN's CPU
  // convolutions (train's --deterministic and bench's --cpu-conv im2col choose im2col).
  static MathOptions application_default() {
    MathOptions m;
    m.cpu_onednn = true;
    return m;
  }
};

class Context {
 public:
  // Throws kestrel::Error when `device` is a GPU this machine or build does not have.
  explicit Context(Device device = Device::cpu());

  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }
  MemoryPool& pool() const;

  // The GPU's context (streams, handles, workspace). Only for CUDA devices.
  cuda::DeviceContext& cuda() const;
  // The stream every op of this context is queued on (CUDA devices only).
  CUstream_st* stream() const;

  // Scratch memory on this context's device (im2col buffers, per-row losses). Drawn from the
  // pool, so repeated steps reuse the same blocks.
  Tensor scratch(const Shape& shape, DType dtype = DType::F32) const {
    return Tensor::empty(shape, dtype, device_);
  }

  // Waits until every op queued on this context has finished (no-op on the CPU).
  void synchronize() const;

  const MathOptions& math() const { return math_; }
  void set_math(const MathOptions& math) { math_ = math; }

 private:
  Device device_;
  MathOptions math_;
  cuda::DeviceContext* cuda_ = nullptr;
};

}  // namespace kestrel
