#include "engine/ops/classification.hpp"

#include "engine/ops/checks.hpp"
#include "engine/ops/dispatch.hpp"
#include "engine/runtime/nvtx.hpp"
#include "engine/tensor/copy.hpp"
#include "kernels/common/classification.hpp"

#if defined(KESTREL_HAVE_CUDA)
#include "kernels/cuda/reduce.hpp"
#endif

namespace kestrel::ops {

namespace {

void check_logits(const char* op, const Context& ctx, const Tensor& logits) {
  detail::check_tensor(op, "logits", logits, ctx, 2);
  KESTREL_CHECK(logits.dim(1) > 0, "{}: logits {} have no classes", op, logits.shape().str());
}

void check_labels(const char* op, const Context& ctx, const Tensor& logits, const Tensor& labels) {
  detail::check_tensor(op, "labels", labels, ctx, 1, DType::I32);
  const int64_t n = logits.dim(0), classes = logits.dim(1);
  KESTREL_CHECK(labels.dim(0) == n, "{}: {} labels for {} rows of logits (labels {}, logits {})",
                op, labels.dim(0), n, labels.shape().str(), logits.shape().str());
  detail::check_labels_in_range(op, labels, classes);
}

// Sums per-row hits (exact in integers, so any order gives the same count).
int64_t sum_hits(const Context& ctx, const Tensor& hits) {
#if defined(KESTREL_HAVE_CUDA)
  if (ctx.is_cuda()) {
    Tensor sum = ctx.scratch(Shape{1}, DType::I64);
    cuda::sum_deterministic(hits.data<int32_t>(), hits.numel(), sum.data<int64_t>(), ctx.stream());
    int64_t total = 0;
    copy_bytes(&total, Device::cpu(), sum.raw_data(), sum.device(), sizeof(total));
    return total;
  }
#endif
  (void)ctx;
  const int32_t* h = hits.data<int32_t>();
  int64_t total = 0;
  for (int64_t r = 0; r < hits.numel(); ++r) total += h[r];
  return total;
}

}  // namespace

void argmax_rows(const Context& ctx, const Tensor& logits, Tensor& out) {
  NvtxRange range("argmax_rows");
  check_logits("argmax_rows", ctx, logits);
  detail::check_tensor("argmax_rows", "output", out, ctx, 1, DType::I32);
  detail::check_shape("argmax_rows", "output", out, Shape{logits.dim(0)});
  detail::launch_elementwise(
      ctx, logits.dim(0),
      kernels::ArgmaxRows{logits.data<float>(), out.data<int32_t>(), logits.dim(1)}, logits.dim(1));
}

int64_t count_correct(const Context& ctx, const Tensor& logits, const Tensor& labels) {
  NvtxRange range("count_correct");
  check_logits("count_correct", ctx, logits);
  check_labels("count_correct", ctx, logits, labels);
  Tensor hits = ctx.scratch(Shape{logits.dim(0)}, DType::I32);
  detail::launch_elementwise(ctx, logits.dim(0),
                             kernels::Top1Hits{logits.data<float>(), labels.data<int32_t>(),
                                               hits.data<int32_t>(), logits.dim(1)},
                             logits.dim(1));
  return sum_hits(ctx, hits);
}

void topk_hits(const Context& ctx, const Tensor& logits, const Tensor& labels, int k,
               Tensor& hits) {
  NvtxRange range("topk_hits");
  check_logits("topk_hits", ctx, logits);
  detail::check_tensor("topk_hits", "labels", labels, ctx, 1, DType::I32);
  detail::check_shape("topk_hits", "labels", labels, Shape{logits.dim(0)});
  detail::check_tensor("topk_hits", "hits", hits, ctx, 1, DType::I32);
  detail::check_shape("topk_hits", "hits", hits, Shape{logits.dim(0)});
  KESTREL_CHECK(k >= 1 && k <= logits.dim(1), "topk_hits: k = {} must be in [1, {}] for logits {}",
                k, logits.dim(1), logits.shape().str());
  detail::launch_elementwise(ctx, logits.dim(0),
                             kernels::TopkHits{logits.data<float>(), labels.data<int32_t>(),
                                               hits.data<int32_t>(), logits.dim(1), k},
                             logits.dim(1) * k);
}

int64_t count_correct_topk(const Context& ctx, const Tensor& logits, const Tensor& labels, int k) {
  NvtxRange range("count_correct_topk");
  check_logits("count_correct_topk", ctx, logits);
  check_labels("count_correct_topk", ctx, logits, labels);
  KESTREL_CHECK(k >= 1 && k <= logits.dim(1),
                "count_correct_topk: k = {} must be in [1, {}] for logits {}", k, logits.dim(1),
                logits.shape().str());
  Tensor hits = ctx.scratch(Shape{logits.dim(0)}, DType::I32);
  topk_hits(ctx, logits, labels, k, hits);
  return sum_hits(ctx, hits);
}

}  // namespace kestrel::ops
