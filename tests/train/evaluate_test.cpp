// train::evaluate keeps its sums on the device and reads them once; the oracle here is the
// per-batch host computation it replaced, written out in the test: the mean loss from
// cross_entropy_forward_backward, the confusion matrix from argmax, top-5 from
// count_correct_topk, and the first 64 misclassified images (test order) with the softmax
// probability of the prediction in float64. An untrained LeNet-5 gets most of a few hundred
// synthetic images wrong, so the 64-record cap and the last short batch are both exercised.
#include "engine/train/evaluate.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/data/registry.hpp"
#include "engine/data/synthetic.hpp"
#include "engine/ops/classification.hpp"
#include "engine/ops/cross_entropy.hpp"
#include "models/registry.hpp"

namespace kestrel::train {
namespace {

TEST(Evaluate, DeviceSumsEqualThePerBatchHostComputation) {
  Context ctx;
  const data::ImageDataset set = data::make_synthetic(300, 1, 28, 28, 10, 4);
  auto graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  constexpr int64_t kBatch = 64;  // 300 = 4 x 64 + 44
  graph->build(ctx, kBatch);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, 8);
  const auto options = data::LoaderOptions::for_evaluation(kBatch, data::lab_normalization(1));
  data::BatchLoader loader(set, ctx, options);
  const EvalResult got = evaluate(ctx, *graph, loader, 10);

  // The oracle.
  data::BatchLoader again(set, ctx, options);
  again.start_epoch(0);
  double loss_sum = 0.0;
  int64_t top5 = 0, samples = 0;
  std::vector<int64_t> confusion(100, 0);
  std::vector<Misclassified> wrong;
  data::Batch batch;
  while (again.next(batch)) {
    const Tensor logits = graph->forward(ctx, batch.images, false, 0);
    loss_sum += static_cast<double>(ops::cross_entropy_forward_backward(ctx, logits, batch.labels,
                                                                        nullptr, {})) *
                static_cast<double>(batch.size);
    top5 += ops::count_correct_topk(ctx, logits, batch.labels, 5);
    Tensor pred = Tensor::empty(Shape{batch.size}, DType::I32);
    ops::argmax_rows(ctx, logits, pred);
    for (int64_t i = 0; i < batch.size; ++i) {
      const int32_t y = batch.labels.data<int32_t>()[i], p = pred.data<int32_t>()[i];
      ++confusion[static_cast<size_t>(y * 10 + p)];
      if (y == p || wrong.size() >= EvalResult::kMaxMisclassified) continue;
      const float* z = logits.data<float>() + i * 10;
      double denom = 0.0;
      for (int k = 0; k < 10; ++k) denom += std::exp(double(z[k]) - double(z[p]));
      wrong.push_back({batch.indices.data<int32_t>()[i], y, p, 1.0 / denom});
    }
    samples += batch.size;
  }

  EXPECT_EQ(got.samples, 300);
  EXPECT_EQ(got.loss, loss_sum / static_cast<double>(samples));
  EXPECT_EQ(got.top5, static_cast<double>(top5) / static_cast<double>(samples));
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p)
      EXPECT_EQ(got.confusion.count(t, p), confusion[static_cast<size_t>(t * 10 + p)])
          << t << " -> " << p;
  ASSERT_EQ(wrong.size(), EvalResult::kMaxMisclassified);  // more wrong than the cap
  ASSERT_EQ(got.misclassified.size(), wrong.size());
  for (size_t k = 0; k < wrong.size(); ++k) {
    SCOPED_TRACE(k);
    EXPECT_EQ(got.misclassified[k].index, wrong[k].index);
    EXPECT_EQ(got.misclassified[k].label, wrong[k].label);
    EXPECT_EQ(got.misclassified[k].predicted, wrong[k].predicted);
    EXPECT_EQ(got.misclassified[k].confidence, wrong[k].confidence);
  }
}

}  // namespace
}  // namespace kestrel::train
