#include "engine/train/evaluate.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <utility>
#include <vector>

#include "engine/ops/classification.hpp"
#include "engine/ops/row_dispatch.hpp"
#include "engine/ops/step_tally.hpp"
#include "engine/ops/tta_views.hpp"
#include "engine/train/step_ledger.hpp"
#include "kernels/common/eval_tally.hpp"
#include "engine/runtime/nvtx.hpp"

namespace kestrel::train {

namespace {

// The ranks' sums: loss, samples, top-5 hits, the confusion matrix and the misclassified
// examples. The examples travel as [rank][slot][index, label, predicted, confidence] in one
// sum where each rank fills only its own slots (an all-gather made of a sum).
void reduce_over_ranks(dist::Communicator& comm, EvalResult& r, double& loss_sum,
                       int64_t& top5_hits) {
  std::array<double, 1> loss{loss_sum};
  comm.all_reduce_sum_host(loss);
  loss_sum = loss[0];

  std::vector<int64_t> counts = r.confusion.counts();
  counts.push_back(r.samples);
  counts.push_back(top5_hits);
  comm.all_reduce_sum_host(counts);
  top5_hits = counts.back();
  counts.pop_back();
  r.samples = counts.back();
  counts.pop_back();
  r.confusion = metrics::ConfusionMatrix::from_counts(r.confusion.classes(), std::move(counts));

  constexpr size_t kFields = 4;
  const size_t slots = EvalResult::kMaxMisclassified;
  std::vector<double> gathered(static_cast<size_t>(comm.size()) * slots * kFields, 0.0);
  const size_t mine = static_cast<size_t>(comm.rank()) * slots * kFields;
  for (size_t k = 0; k < slots; ++k) {
    double* slot = gathered.data() + mine + k * kFields;
    if (k >= r.misclassified.size()) {
      slot[0] = -1.0;  // empty
      continue;
    }
    const Misclassified& m = r.misclassified[k];
    slot[0] = static_cast<double>(m.index);
    slot[1] = m.label;
    slot[2] = m.predicted;
    slot[3] = m.confidence;
  }
  comm.all_reduce_sum_host(gathered);
  r.misclassified.clear();
  for (size_t s = 0; s < gathered.size(); s += kFields) {
    if (gathered[s] < 0.0) continue;
    r.misclassified.push_back({static_cast<int64_t>(gathered[s]),
                               static_cast<int32_t>(gathered[s + 1]),
                               static_cast<int32_t>(gathered[s + 2]), gathered[s + 3]});
  }
  std::sort(r.misclassified.begin(), r.misclassified.end(),
            [](const Misclassified& a, const Misclassified& b) { return a.index < b.index; });
  if (r.misclassified.size() > slots) r.misclassified.resize(slots);
}

}  // namespace

namespace {

// Device memory of `count` elements of T (a plain struct), zero-filled.
template <class T>
Tensor zeroed_structs(const Context& ctx, int64_t count) {
  static_assert(sizeof(T) % sizeof(int64_t) == 0, "whole 8-byte words");
  return Tensor::zeros(Shape{count * static_cast<int64_t>(sizeof(T) / sizeof(int64_t))},
                       DType::I64, ctx.device());
}

template <class T>
T* as_structs(Tensor& t) {
  return reinterpret_cast<T*>(t.data<int64_t>());
}

}  // namespace

namespace {

// The logits of one batch: the graph's, or with test-time augmentation the weighted sum of its
// logits over the views, in `averaged` (views and averaged: buffers for a whole batch).
Tensor batch_logits(const Context& ctx, nn::Graph& graph, const Tensor& images,
                    const std::vector<TtaView>& views, Tensor& view_images, Tensor& averaged) {
  if (views.size() == 1) return graph.forward(ctx, images, /*training=*/false, /*step=*/0);
  const int64_t n = images.shape()[0];
  if (!view_images.defined()) {
    Shape shape = images.shape();
    shape[0] = graph.batch_size();
    view_images = Tensor::empty(shape, DType::F32, ctx.device());
  }
  Tensor view = view_images.slice(0, n);
  Tensor sum;
  for (size_t k = 0; k < views.size(); ++k) {
    const TtaView& v = views[k];
    const bool identity = v.dy == 0 && v.dx == 0 && !v.flip;
    if (!identity) ops::shift_flip(ctx, images, view, v.dy, v.dx, v.flip);
    const Tensor logits =
        graph.forward(ctx, identity ? images : view, /*training=*/false, /*step=*/0);
    if (!averaged.defined())
      averaged = Tensor::empty(Shape{graph.batch_size(), logits.shape()[1]}, DType::F32,
                               ctx.device());
    sum = averaged.slice(0, n);
    ops::add_weighted(ctx, logits, v.weight, k == 0, sum);
  }
  return sum;
}

}  // namespace

EvalResult evaluate(const Context& ctx, nn::Graph& graph, data::BatchLoader& loader, int classes,
                    dist::Communicator* comm, Tta tta) {
  NvtxRange range("evaluate");
  KESTREL_CHECK(loader.options().purpose == data::LoaderPurpose::Evaluation,
                "evaluate: the loader augments or shuffles; use an evaluation loader");
  const auto start = std::chrono::steady_clock::now();
  EvalResult r;
  const bool with_top5 = classes >= 10;
  const int64_t capacity = static_cast<int64_t>(EvalResult::kMaxMisclassified);
  // Everything accumulates on the device; the host reads it once, after the last batch. The
  // loss and top-1 hits go through a step ledger, as in training, so they are summed alike.
  StepLedger ledger(ctx);
  Tensor confusion = Tensor::zeros(Shape{int64_t{classes} * classes}, DType::I64, ctx.device());
  Tensor totals = zeroed_structs<kernels::EvalTotals>(ctx, 1);
  Tensor records = zeroed_structs<kernels::EvalRecord>(ctx, capacity);
  Tensor predicted = Tensor::empty(Shape{graph.batch_size()}, DType::I32, ctx.device());
  Tensor top5 = Tensor::empty(Shape{graph.batch_size()}, DType::I32, ctx.device());
  const std::vector<TtaView> views = tta_views(tta);
  Tensor view_images, averaged;
  data::Batch batch;
  loader.start_epoch(0);
  while (loader.next(batch)) {
    const Tensor logits = batch_logits(ctx, graph, batch.images, views, view_images, averaged);
    ops::cross_entropy_tally(ctx, logits, batch.labels, nullptr, {}, ledger.tally());
    ledger.record(batch.size);
    Tensor pred = predicted.slice(0, batch.size);
    ops::argmax_rows(ctx, logits, pred);
    Tensor hits5 = top5.slice(0, batch.size);
    if (with_top5) ops::topk_hits(ctx, logits, batch.labels, 5, hits5);
    ops::detail::launch_accumulate_eval_batch(
        ctx,
        kernels::AccumulateEvalBatch{logits.data<float>(), batch.labels.data<int32_t>(),
                                     pred.data<int32_t>(),
                                     with_top5 ? hits5.data<int32_t>() : nullptr,
                                     batch.indices.data<int32_t>(), batch.size, classes,
                                     confusion.data<int64_t>(),
                                     as_structs<kernels::EvalTotals>(totals),
                                     as_structs<kernels::EvalRecord>(records), capacity});
    r.samples += batch.size;
  }

  // The one wait: the ledger, the counts and the records come back.
  const LedgerSnapshot tally = ledger.read();
  const Tensor host_totals = totals.to(Device::cpu()), host_records = records.to(Device::cpu());
  const Tensor host_confusion = confusion.to(Device::cpu());
  const kernels::EvalTotals t = *reinterpret_cast<const kernels::EvalTotals*>(
      host_totals.data<int64_t>());
  const auto* rec = reinterpret_cast<const kernels::EvalRecord*>(host_records.data<int64_t>());
  for (int64_t k = 0; k < t.recorded; ++k)
    r.misclassified.push_back({rec[k].index, rec[k].label, rec[k].predicted, rec[k].confidence});
  const int64_t* counts = host_confusion.data<int64_t>();
  r.confusion = metrics::ConfusionMatrix::from_counts(
      classes, std::vector<int64_t>(counts, counts + host_confusion.numel()));
  // A non-finite batch loss halts the ledger: the split's loss is then that value.
  double loss_sum = tally.halted ? static_cast<double>(tally.halted_loss) : tally.loss_sum;
  int64_t top5_hits = t.top5_hits;

  if (comm != nullptr && comm->size() > 1) reduce_over_ranks(*comm, r, loss_sum, top5_hits);
  KESTREL_CHECK(r.samples > 0, "evaluate: the evaluation set is empty");
  r.loss = loss_sum / static_cast<double>(r.samples);
  r.top1 = r.confusion.accuracy();
  if (with_top5) r.top5 = static_cast<double>(top5_hits) / static_cast<double>(r.samples);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

nlohmann::json EvalResult::misclassified_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const Misclassified& m : misclassified)
    j.push_back({{"index", m.index},
                 {"label", m.label},
                 {"predicted", m.predicted},
                 {"confidence", m.confidence}});
  return j;
}

nlohmann::json EvalResult::to_json(const std::vector<std::string>& class_names) const {
  nlohmann::json j;
  j["loss"] = loss;
  j["top1"] = top1;
  if (top5 >= 0.0) j["top5"] = top5;
  j["macro_f1"] = confusion.macro_f1();
  j["samples"] = samples;
  nlohmann::json per_class = nlohmann::json::array();
  const auto scores = confusion.per_class();
  for (size_t k = 0; k < scores.size(); ++k) {
    per_class.push_back({{"class", k < class_names.size() ? class_names[k] : std::to_string(k)},
                         {"precision", scores[k].precision},
                         {"recall", scores[k].recall},
                         {"f1", scores[k].f1},
                         {"support", scores[k].support}});
  }
  j["per_class"] = per_class;
  nlohmann::json matrix = nlohmann::json::array();
  for (int t = 0; t < confusion.classes(); ++t) {
    nlohmann::json row = nlohmann::json::array();
    for (int p = 0; p < confusion.classes(); ++p) row.push_back(confusion.count(t, p));
    matrix.push_back(row);
  }
  j["confusion"] = matrix;
  return j;
}

}  // namespace kestrel::train
