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
#include "engine/train/tta.hpp"
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

// Test-time augmentation: each batch's figures are those of the views' weighted mean logits.
// The oracle builds each view on the host (mirror and a one-pixel reflected shift written out
// here), runs the model on it, averages in float64 and takes the loss and argmax from that.
TEST(Evaluate, TestTimeAugmentationScoresTheViewsMeanLogits) {
  Context ctx;
  const data::ImageDataset set = data::make_synthetic(150, 1, 28, 28, 10, 5);
  auto graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  constexpr int64_t kBatch = 64;  // 150 = 2 x 64 + 22
  graph->build(ctx, kBatch);
  graph->initialize(ctx, init::InitScheme::PyTorchDefault, 9);
  const auto options = data::LoaderOptions::for_evaluation(kBatch, data::lab_normalization(1));
  for (Tta tta : {Tta::Flip, Tta::FlipTranslate}) {
    SCOPED_TRACE(tta_name(tta));
    data::BatchLoader loader(set, ctx, options);
    const EvalResult got = evaluate(ctx, *graph, loader, 10, nullptr, tta);
    const EvalResult plain = [&] {
      data::BatchLoader l(set, ctx, options);
      return evaluate(ctx, *graph, l, 10);
    }();

    data::BatchLoader again(set, ctx, options);
    again.start_epoch(0);
    double loss_sum = 0.0;
    int64_t samples = 0, hits = 0, near_ties = 0;
    data::Batch batch;
    while (again.next(batch)) {
      const int64_t n = batch.size, hw = 28 * 28;
      std::vector<double> mean(static_cast<size_t>(n * 10), 0.0);
      for (const TtaView& v : tta_views(tta)) {
        Tensor view = Tensor::empty(Shape{n, 1, 28, 28});
        for (int64_t i = 0; i < n; ++i)
          for (int64_t y = 0; y < 28; ++y)
            for (int64_t x = 0; x < 28; ++x) {
              int64_t sy = y + v.dy, sx = (v.flip ? 27 - x : x) + v.dx;
              sy = sy < 0 ? -sy : (sy > 27 ? 54 - sy : sy);
              sx = sx < 0 ? -sx : (sx > 27 ? 54 - sx : sx);
              view.data<float>()[i * hw + y * 28 + x] = batch.images.data<float>()[i * hw + sy * 28 + sx];
            }
        const Tensor logits = graph->forward(ctx, view, false, 0);
        for (int64_t k = 0; k < n * 10; ++k)
          mean[static_cast<size_t>(k)] += double(v.weight) * double(logits.data<float>()[k]);
      }
      for (int64_t i = 0; i < n; ++i) {
        const double* z = mean.data() + i * 10;
        const int32_t label = batch.labels.data<int32_t>()[i];
        int best = 0;
        for (int k = 1; k < 10; ++k) best = z[k] > z[best] ? k : best;
        double denom = 0.0, second = -1e300;
        for (int k = 0; k < 10; ++k) {
          denom += std::exp(z[k] - z[best]);
          if (k != best) second = std::max(second, z[k]);
        }
        loss_sum += std::log(denom) - (z[label] - z[best]);
        hits += best == label;
        near_ties += z[best] - second < 1e-5 * std::abs(z[best]);
      }
      samples += n;
    }
    EXPECT_EQ(got.samples, 150);
    EXPECT_NEAR(got.loss, loss_sum / double(samples), 1e-5 * loss_sum / double(samples));
    EXPECT_NEAR(got.top1, double(hits) / double(samples), double(near_ties) / double(samples));
    // The views change the figures (the model is not mirror-symmetric).
    EXPECT_NE(got.loss, plain.loss);
  }
}

}  // namespace
}  // namespace kestrel::train
