#include "kernels/cuda/conv2d_cudnn.hpp"

#include <fmt/format.h>

#include <array>
#include <string>

#include "kernels/cuda/check.hpp"
#include "kernels/cuda/library_check.hpp"

namespace kestrel::cuda {

namespace {

int i32(int64_t v) { return static_cast<int>(v); }

// The legacy convolution API takes int sizes and tensors of fewer than 2^31 elements.
void check_int_sizes(const kernels::Conv2dGeometry& g) {
  constexpr int64_t kLimit = int64_t{1} << 31;
  const int64_t input = g.n * g.c * g.h * g.w, output = g.n * g.k * g.oh * g.ow;
  KESTREL_CHECK(input < kLimit && output < kLimit,
                "conv2d: cuDNN takes tensors of fewer than 2^31 elements; input [{}, {}, {}, {}] "
                "and output [{}, {}, {}, {}] at this batch: use a smaller --batch",
                g.n, g.c, g.h, g.w, g.n, g.k, g.oh, g.ow);
}

// The four descriptors of one convolution problem, destroyed on every path out (the
// constructor's included).
class ConvDescriptors {
 public:
  ConvDescriptors(const kernels::Conv2dGeometry& g, const ConvOptions& o) {
    KESTREL_CHECK(o.bf16 || !o.channels_last,
                  "conv2d: channels-last operands are only used with bf16");
    check_int_sizes(g);
    try {
      describe(g, o);
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~ConvDescriptors() { destroy(); }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void describe(const kernels::Conv2dGeometry& g, const ConvOptions& o) {
    const cudnnDataType_t type = o.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    const cudnnTensorFormat_t format = o.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    KESTREL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    KESTREL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    KESTREL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, format, type, i32(g.n), i32(g.c), i32(g.h), i32(g.w)));
    KESTREL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y, format, type, i32(g.n), i32(g.k), i32(g.oh), i32(g.ow)));
    KESTREL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(
        w, type, format, i32(g.k), i32(g.channels_per_group()), i32(g.r), i32(g.s)));
    // PyTorch's conv2d is a cross-correlation. bf16 operands accumulate in f32
    // (cuDNN's BFLOAT16 configuration).
    KESTREL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, g.pad_h, g.pad_w, g.stride_h,
                                                        g.stride_w, g.dilation_h, g.dilation_w,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    KESTREL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, g.groups));
    const cudnnMathType_t math = o.bf16   ? CUDNN_TENSOR_OP_MATH
                                 : o.tf32 ? CUDNN_DEFAULT_MATH
                                          : CUDNN_FMA_MATH;
    KESTREL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math));
  }
  void destroy() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
    conv = nullptr, w = nullptr, y = nullptr, x = nullptr;
  }
};

ConvAlgoKey make_key(ConvDirection d, const kernels::Conv2dGeometry& g, const ConvOptions& o) {
  ConvAlgoKey k;
  k.device = o.device;
  k.direction = d;
  k.geometry = g;
  k.tf32 = o.tf32;
  k.deterministic = o.deterministic;
  k.bf16 = o.bf16;
  k.channels_last = o.channels_last;
  return k;
}

// Picks the fastest usable result of a cudnnFind...Ex run (results come sorted by time): one
// that ran, fits the workspace and is deterministic when asked. When none is, the error lists
// each result and why it was passed over.
template <class Perf>
ConvAlgoChoice pick(const Perf* results, int count, const ConvOptions& o, const char* what,
                    const kernels::Conv2dGeometry& g) {
  std::string passed_over;
  for (int i = 0; i < count; ++i) {
    const Perf& p = results[i];
    const char* why = nullptr;
    if (p.status != CUDNN_STATUS_SUCCESS)
      why = cudnnGetErrorString(p.status);
    else if (p.memory > o.workspace_limit)
      why = "workspace";
    else if (o.deterministic && p.determinism != CUDNN_DETERMINISTIC)
      why = "not deterministic";
    else  // plain f32 stays on FMA kernels (no TF32), whatever math type the result names
      return ConvAlgoChoice{static_cast<int>(p.algo), p.memory, p.time,
                            static_cast<int>(!o.bf16 && !o.tf32 ? CUDNN_FMA_MATH : p.mathType)};
    passed_over += fmt::format(" algo {}: {};", static_cast<int>(p.algo), why);
  }
  KESTREL_FAIL(
      "conv2d: cuDNN found no {} algorithm{} within a {} MiB workspace for {} input [{}, {}, "
      "{}, {}], {} filters {}x{} (stride {}, pad {}, dilation {}, groups {}, {});{}",
      what, o.deterministic ? " that is deterministic" : "", o.workspace_limit >> 20,
      o.bf16 ? "bf16" : (o.tf32 ? "tf32" : "f32"), g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride_h,
      g.pad_h, g.dilation_h, g.groups, o.channels_last ? "NHWC" : "NCHW",
      passed_over.empty() ? " it returned no result" : passed_over);
}

// Autotuning times kernels and waits for them: never inside a CUDA Graph capture, which it
// would invalidate. The eager warm-up step before a capture fills the cache.
void check_not_capturing(cudnnHandle_t handle, const char* what) {
  cudaStream_t stream = nullptr;
  KESTREL_CUDNN_CHECK(cudnnGetStream(handle, &stream));
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  KESTREL_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  KESTREL_CHECK(status == cudaStreamCaptureStatusNone,
                "conv2d: no tuned {} algorithm for this shape while a CUDA Graph is being "
                "captured; run the step eagerly once first",
                what);
}

// The descriptor's math type set to the one the chosen algorithm was measured with.
void use_math_of(const ConvDescriptors& d, const ConvAlgoChoice& choice) {
  KESTREL_CUDNN_CHECK(
      cudnnSetConvolutionMathType(d.conv, static_cast<cudnnMathType_t>(choice.math_type)));
}

constexpr int kMaxAlgos = 16;

}  // namespace

void conv2d_forward(cudnnHandle_t handle, const WorkspaceSource& workspace,
                    const kernels::Conv2dGeometry& g, const void* x, const void* w,
                    const float* bias, void* y, const ConvOptions& o) {
  KESTREL_CHECK(bias == nullptr || !o.bf16,
                "conv2d: a bf16 convolution takes its bias when its result is unpacked");
  ConvDescriptors d(g, o);
  const ConvAlgoKey key = make_key(ConvDirection::Forward, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    std::array<cudnnConvolutionFwdAlgoPerf_t, kMaxAlgos> perf{};
    int found = 0;
    check_not_capturing(handle, "forward");
    KESTREL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
        handle, d.x, x, d.w, w, d.conv, d.y, y, kMaxAlgos, &found, perf.data(),
        workspace(o.workspace_limit), o.workspace_limit));
    choice = pick(perf.data(), found, o, "forward", g);
    conv_algo_cache().insert(key, *choice);
  }
  use_math_of(d, *choice);
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionForward(
      handle, &one, d.x, x, d.w, w, d.conv,
      static_cast<cudnnConvolutionFwdAlgo_t>(choice->algorithm), workspace(choice->workspace_bytes),
      choice->workspace_bytes, &zero, d.y, y));
  if (bias) {
    cudnnTensorDescriptor_t b = nullptr;
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b));
    const cudnnStatus_t set =
        cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i32(g.k), 1, 1);
    const cudnnStatus_t add =
        set == CUDNN_STATUS_SUCCESS ? cudnnAddTensor(handle, &one, b, bias, &one, d.y, y) : set;
    cudnnDestroyTensorDescriptor(b);
    KESTREL_CUDNN_CHECK(add);
  }
}

void conv2d_backward_data(cudnnHandle_t handle, const WorkspaceSource& workspace,
                          const kernels::Conv2dGeometry& g, const void* dy, const void* w, void* dx,
                          const ConvOptions& o) {
  ConvDescriptors d(g, o);
  const ConvAlgoKey key = make_key(ConvDirection::BackwardData, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    std::array<cudnnConvolutionBwdDataAlgoPerf_t, kMaxAlgos> perf{};
    int found = 0;
    check_not_capturing(handle, "backward-data");
    KESTREL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
        handle, d.w, w, d.y, dy, d.conv, d.x, dx, kMaxAlgos, &found, perf.data(),
        workspace(o.workspace_limit), o.workspace_limit));
    choice = pick(perf.data(), found, o, "backward-data", g);
    conv_algo_cache().insert(key, *choice);
  }
  use_math_of(d, *choice);
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionBackwardData(
      handle, &one, d.w, w, d.y, dy, d.conv,
      static_cast<cudnnConvolutionBwdDataAlgo_t>(choice->algorithm),
      workspace(choice->workspace_bytes), choice->workspace_bytes, &zero, d.x, dx));
}

void conv2d_backward_filter(cudnnHandle_t handle, const WorkspaceSource& workspace,
                            const kernels::Conv2dGeometry& g, const void* x, const void* dy,
                            void* dw, const ConvOptions& o) {
  ConvDescriptors d(g, o);
  const ConvAlgoKey key = make_key(ConvDirection::BackwardFilter, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    std::array<cudnnConvolutionBwdFilterAlgoPerf_t, kMaxAlgos> perf{};
    int found = 0;
    check_not_capturing(handle, "backward-filter");
    KESTREL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        handle, d.x, x, d.y, dy, d.conv, d.w, dw, kMaxAlgos, &found, perf.data(),
        workspace(o.workspace_limit), o.workspace_limit));
    choice = pick(perf.data(), found, o, "backward-filter", g);
    conv_algo_cache().insert(key, *choice);
  }
  use_math_of(d, *choice);
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      handle, &one, d.x, x, d.y, dy, d.conv,
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice->algorithm),
      workspace(choice->workspace_bytes), choice->workspace_bytes, &zero, d.w, dw));
}

void conv2d_backward_bias(cudnnHandle_t handle, const kernels::Conv2dGeometry& g, const float* dy,
                          float* db) {
  cudnnTensorDescriptor_t y = nullptr, b = nullptr;
  KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
  cudnnStatus_t status = cudnnCreateTensorDescriptor(&b);
  if (status == CUDNN_STATUS_SUCCESS)
    status = cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i32(g.n), i32(g.k),
                                        i32(g.oh), i32(g.ow));
  if (status == CUDNN_STATUS_SUCCESS)
    status = cudnnSetTensor4dDescriptor(b, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i32(g.k), 1, 1);
  const float one = 1.0f, zero = 0.0f;
  if (status == CUDNN_STATUS_SUCCESS)
    status = cudnnConvolutionBackwardBias(handle, &one, y, dy, &zero, b, db);
  if (b) cudnnDestroyTensorDescriptor(b);
  cudnnDestroyTensorDescriptor(y);
  KESTREL_CUDNN_CHECK(status);
}

}  // namespace kestrel::cuda
