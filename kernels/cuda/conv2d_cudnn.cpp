#include "kernels/cuda/conv2d_cudnn.hpp"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <string>

#include "kernels/common/fallback.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/library_check.hpp"
#include "kernels/cuda/shape_cache.hpp"

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

// The descriptors of one convolution problem under one math type (and its bias's), destroyed
// on every path out (the constructor's included). Built once per problem and thread
// (descriptors()), never changed after.
class ConvDescriptors {
 public:
  ConvDescriptors(const kernels::Conv2dGeometry& g, const ConvOptions& o, cudnnMathType_t math) {
    KESTREL_CHECK(o.bf16 || !o.channels_last,
                  "conv2d: channels-last operands are only used with bf16");
    check_int_sizes(g);
    try {
      describe(g, o, math);
    } catch (...) {
      destroy();
      throw;
    }
  }
  ~ConvDescriptors() { destroy(); }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnTensorDescriptor_t bias = nullptr;  // f32 [1, K, 1, 1]
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void describe(const kernels::Conv2dGeometry& g, const ConvOptions& o, cudnnMathType_t math) {
    const cudnnDataType_t type = o.bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    const cudnnTensorFormat_t format = o.channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    KESTREL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    KESTREL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    KESTREL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    KESTREL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, format, type, i32(g.n), i32(g.c), i32(g.h), i32(g.w)));
    KESTREL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y, format, type, i32(g.n), i32(g.k), i32(g.oh), i32(g.ow)));
    KESTREL_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i32(g.k), 1, 1));
    KESTREL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(
        w, type, format, i32(g.k), i32(g.channels_per_group()), i32(g.r), i32(g.s)));
    // PyTorch's conv2d is a cross-correlation. bf16 operands accumulate in f32
    // (cuDNN's BFLOAT16 configuration).
    KESTREL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, g.pad_h, g.pad_w, g.stride_h,
                                                        g.stride_w, g.dilation_h, g.dilation_w,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    KESTREL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, g.groups));
    KESTREL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math));
  }
  void destroy() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (bias) cudnnDestroyTensorDescriptor(bias);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
    conv = nullptr, w = nullptr, bias = nullptr, y = nullptr, x = nullptr;
  }
};

// The math type autotuning starts from: tensor cores for bf16, TF32 allowed or plain FMA.
cudnnMathType_t search_math(const ConvOptions& o) {
  return o.bf16 ? CUDNN_TENSOR_OP_MATH : o.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

// The descriptors for this problem and math type, from this thread's cache: built on the first
// call, found (no cuDNN call, no allocation) on every later one.
const ConvDescriptors& descriptors(const kernels::Conv2dGeometry& g, const ConvOptions& o,
                                   cudnnMathType_t math) {
  thread_local ShapeCache<ConvDescriptors, 19> cache;
  return cache.get({g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.oh, g.ow, g.stride_h, g.stride_w, g.pad_h,
                    g.pad_w, g.dilation_h, g.dilation_w, g.groups, o.bf16, o.channels_last, math},
                   [&] { return std::make_unique<ConvDescriptors>(g, o, math); });
}

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

constexpr int kMaxAlgos = 16;

// Autotuning (cudnnFind...AlgorithmEx: every algorithm timed on the real operands) is a fast
// path. When the search itself fails at run time (a driver or library fault, not a shape
// without algorithms: pick() reports that), this and every later choice comes from cuDNN's
// heuristic instead (cudnnGet...Algorithm_v7: no kernel runs, the same result type), with one
// warning. KESTREL_FAULT_FAST_PATH=cudnn-find takes the heuristic from the start.
kernels::Fallback& timed_search() {
  static kernels::Fallback path("cudnn-find",
                                "cuDNN's timed algorithm search (cudnnFind...AlgorithmEx)",
                                "cuDNN's heuristic algorithm choice");
  return path;
}

// The choice for one direction: `find` and `heuristic` fill up to kMaxAlgos results of type
// Perf and return cuDNN's status.
template <class Perf, class Find, class Heuristic>
ConvAlgoChoice choose(cudnnHandle_t handle, const char* what, const char* find_name,
                      const kernels::Conv2dGeometry& g, const ConvOptions& o, Find&& find,
                      Heuristic&& heuristic) {
  std::array<Perf, kMaxAlgos> perf{};
  int found = 0;
  const bool timed = timed_search().attempt([&] {
    check_not_capturing(handle, what);
    const cudnnStatus_t status = find(perf.data(), &found);
    return status == CUDNN_STATUS_SUCCESS
               ? std::string()
               : fmt::format("{}: {}", find_name, cudnnGetErrorString(status));
  });
  if (!timed) {
    found = 0;
    KESTREL_CUDNN_CHECK(heuristic(perf.data(), &found));
  }
  return pick(perf.data(), found, o, what, g);
}

// The bias gradient's two f32 NCHW descriptors, dy [N, K, OH, OW] and db [1, K, 1, 1], cached
// per thread like the convolutions'.
struct BiasGradDescriptors {
  explicit BiasGradDescriptors(const kernels::Conv2dGeometry& g) {
    cudnnStatus_t status = cudnnCreateTensorDescriptor(&dy);
    if (status == CUDNN_STATUS_SUCCESS) status = cudnnCreateTensorDescriptor(&db);
    if (status == CUDNN_STATUS_SUCCESS)
      status = cudnnSetTensor4dDescriptor(dy, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i32(g.n),
                                          i32(g.k), i32(g.oh), i32(g.ow));
    if (status == CUDNN_STATUS_SUCCESS)
      status =
          cudnnSetTensor4dDescriptor(db, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, i32(g.k), 1, 1);
    if (status != CUDNN_STATUS_SUCCESS) destroy();
    KESTREL_CUDNN_CHECK(status);
  }
  ~BiasGradDescriptors() { destroy(); }
  BiasGradDescriptors(const BiasGradDescriptors&) = delete;
  BiasGradDescriptors& operator=(const BiasGradDescriptors&) = delete;
  void destroy() {
    if (db) cudnnDestroyTensorDescriptor(db);
    if (dy) cudnnDestroyTensorDescriptor(dy);
    db = nullptr, dy = nullptr;
  }
  cudnnTensorDescriptor_t dy = nullptr, db = nullptr;
};

const BiasGradDescriptors& bias_grad_descriptors(const kernels::Conv2dGeometry& g) {
  thread_local ShapeCache<BiasGradDescriptors, 4> cache;
  return cache.get({g.n, g.k, g.oh, g.ow},
                   [&] { return std::make_unique<BiasGradDescriptors>(g); });
}

}  // namespace

void conv2d_forward(cudnnHandle_t handle, const WorkspaceSource& workspace,
                    const kernels::Conv2dGeometry& g, const void* x, const void* w,
                    const float* bias, void* y, const ConvOptions& o) {
  KESTREL_CHECK(bias == nullptr || !o.bf16,
                "conv2d: a bf16 convolution takes its bias when its result is unpacked");
  const ConvAlgoKey key = make_key(ConvDirection::Forward, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    const ConvDescriptors& s = descriptors(g, o, search_math(o));
    choice = choose<cudnnConvolutionFwdAlgoPerf_t>(
        handle, "forward", "cudnnFindConvolutionForwardAlgorithmEx", g, o,
        [&](cudnnConvolutionFwdAlgoPerf_t* perf, int* found) {
          return cudnnFindConvolutionForwardAlgorithmEx(
              handle, s.x, x, s.w, w, s.conv, s.y, y, kMaxAlgos, found, perf,
              workspace(o.workspace_limit), o.workspace_limit);
        },
        [&](cudnnConvolutionFwdAlgoPerf_t* perf, int* found) {
          return cudnnGetConvolutionForwardAlgorithm_v7(handle, s.x, s.w, s.conv, s.y, kMaxAlgos,
                                                        found, perf);
        });
    conv_algo_cache().insert(key, *choice);
  }
  // The descriptors of the math type the chosen algorithm was measured with, or cuDNN may run
  // another kernel than the one timed (and sized).
  const ConvDescriptors& d = descriptors(g, o, static_cast<cudnnMathType_t>(choice->math_type));
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionForward(
      handle, &one, d.x, x, d.w, w, d.conv,
      static_cast<cudnnConvolutionFwdAlgo_t>(choice->algorithm), workspace(choice->workspace_bytes),
      choice->workspace_bytes, &zero, d.y, y));
  if (bias) KESTREL_CUDNN_CHECK(cudnnAddTensor(handle, &one, d.bias, bias, &one, d.y, y));
}

void conv2d_backward_data(cudnnHandle_t handle, const WorkspaceSource& workspace,
                          const kernels::Conv2dGeometry& g, const void* dy, const void* w, void* dx,
                          const ConvOptions& o) {
  const ConvAlgoKey key = make_key(ConvDirection::BackwardData, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    const ConvDescriptors& s = descriptors(g, o, search_math(o));
    choice = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
        handle, "backward-data", "cudnnFindConvolutionBackwardDataAlgorithmEx", g, o,
        [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int* found) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(
              handle, s.w, w, s.y, dy, s.conv, s.x, dx, kMaxAlgos, found, perf,
              workspace(o.workspace_limit), o.workspace_limit);
        },
        [&](cudnnConvolutionBwdDataAlgoPerf_t* perf, int* found) {
          return cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, s.w, s.y, s.conv, s.x,
                                                             kMaxAlgos, found, perf);
        });
    conv_algo_cache().insert(key, *choice);
  }
  // The descriptors of the math type the chosen algorithm was measured with, or cuDNN may run
  // another kernel than the one timed (and sized).
  const ConvDescriptors& d = descriptors(g, o, static_cast<cudnnMathType_t>(choice->math_type));
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionBackwardData(
      handle, &one, d.w, w, d.y, dy, d.conv,
      static_cast<cudnnConvolutionBwdDataAlgo_t>(choice->algorithm),
      workspace(choice->workspace_bytes), choice->workspace_bytes, &zero, d.x, dx));
}

void conv2d_backward_filter(cudnnHandle_t handle, const WorkspaceSource& workspace,
                            const kernels::Conv2dGeometry& g, const void* x, const void* dy,
                            void* dw, const ConvOptions& o) {
  const ConvAlgoKey key = make_key(ConvDirection::BackwardFilter, g, o);
  auto choice = conv_algo_cache().find(key);
  if (!choice) {
    const ConvDescriptors& s = descriptors(g, o, search_math(o));
    choice = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
        handle, "backward-filter", "cudnnFindConvolutionBackwardFilterAlgorithmEx", g, o,
        [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int* found) {
          return cudnnFindConvolutionBackwardFilterAlgorithmEx(
              handle, s.x, x, s.y, dy, s.conv, s.w, dw, kMaxAlgos, found, perf,
              workspace(o.workspace_limit), o.workspace_limit);
        },
        [&](cudnnConvolutionBwdFilterAlgoPerf_t* perf, int* found) {
          return cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, s.x, s.y, s.conv, s.w,
                                                               kMaxAlgos, found, perf);
        });
    conv_algo_cache().insert(key, *choice);
  }
  // The descriptors of the math type the chosen algorithm was measured with, or cuDNN may run
  // another kernel than the one timed (and sized).
  const ConvDescriptors& d = descriptors(g, o, static_cast<cudnnMathType_t>(choice->math_type));
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      handle, &one, d.x, x, d.y, dy, d.conv,
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice->algorithm),
      workspace(choice->workspace_bytes), choice->workspace_bytes, &zero, d.w, dw));
}

void conv2d_backward_bias(cudnnHandle_t handle, const kernels::Conv2dGeometry& g, const float* dy,
                          float* db) {
  const BiasGradDescriptors& d = bias_grad_descriptors(g);
  const float one = 1.0f, zero = 0.0f;
  KESTREL_CUDNN_CHECK(cudnnConvolutionBackwardBias(handle, &one, d.dy, dy, &zero, d.db, db));
}

}  // namespace kestrel::cuda
