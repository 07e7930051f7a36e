#include "engine/ops/classification.hpp"

#include "engine/ops/checks.hpp"
#include "kernels/common/classification.hpp"
#include "kernels/cpu/parallel.hpp"

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
  const int32_t* label = labels.data<int32_t>();
  for (int64_t r = 0; r < n; ++r)
    KESTREL_CHECK(label[r] >= 0 && label[r] < classes,
                  "{}: label {} in row {} is out of range [0, {})", op, label[r], r, classes);
}

// Sums per-row hits in row order.
int64_t sum_hits(const Tensor& hits) {
  const int32_t* h = hits.data<int32_t>();
  int64_t total = 0;
  for (int64_t r = 0; r < hits.numel(); ++r) total += h[r];
  return total;
}

}  // namespace

void argmax_rows(const Context& ctx, const Tensor& logits, Tensor& out) {
  check_logits("argmax_rows", ctx, logits);
  detail::check_tensor("argmax_rows", "output", out, ctx, 1, DType::I32);
  detail::check_shape("argmax_rows", "output", out, Shape{logits.dim(0)});
  cpu::launch(logits.dim(0),
              kernels::ArgmaxRows{logits.data<float>(), out.data<int32_t>(), logits.dim(1)});
}

int64_t count_correct(const Context& ctx, const Tensor& logits, const Tensor& labels) {
  check_logits("count_correct", ctx, logits);
  check_labels("count_correct", ctx, logits, labels);
  Tensor hits = ctx.scratch(Shape{logits.dim(0)}, DType::I32);
  cpu::launch(logits.dim(0), kernels::Top1Hits{logits.data<float>(), labels.data<int32_t>(),
                                               hits.data<int32_t>(), logits.dim(1)});
  return sum_hits(hits);
}

int64_t count_correct_topk(const Context& ctx, const Tensor& logits, const Tensor& labels,
                           int k) {
  check_logits("count_correct_topk", ctx, logits);
  check_labels("count_correct_topk", ctx, logits, labels);
  KESTREL_CHECK(k >= 1 && k <= logits.dim(1),
                "count_correct_topk: k = {} must be in [1, {}] for logits {}", k, logits.dim(1),
                logits.shape().str());
  Tensor hits = ctx.scratch(Shape{logits.dim(0)}, DType::I32);
  cpu::launch(logits.dim(0), kernels::TopkHits{logits.data<float>(), labels.data<int32_t>(),
                                               hits.data<int32_t>(), logits.dim(1), k});
  return sum_hits(hits);
}

}  // namespace kestrel::ops
