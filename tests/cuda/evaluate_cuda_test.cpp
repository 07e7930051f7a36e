// Evaluation with its sums on the GPU against the same evaluation on the CPU: the same LeNet-5
// parameters over 300 synthetic images. The logits differ by float rounding only, so the loss
// agrees to 1e-5 and the confusion matrices, top-5 and the misclassified records agree except
// where a near tie flips an argmax (allowed: at most 2 images of 300).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "engine/data/registry.hpp"
#include "engine/data/synthetic.hpp"
#include "engine/train/evaluate.hpp"
#include "models/registry.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

TEST(CudaEvaluate, MatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const data::ImageDataset set = data::make_synthetic(300, 1, 28, 28, 10, 4);
  const auto options = data::LoaderOptions::for_evaluation(64, data::lab_normalization(1));
  Context cpu, gpu(gpu0());
  gpu.set_math({.tf32 = false, .deterministic = true});
  auto on_cpu = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  auto on_gpu = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
  on_cpu->build(cpu, 64);
  on_gpu->build(gpu, 64);
  on_cpu->initialize(cpu, init::InitScheme::PyTorchDefault, 8);
  on_gpu->parameters().copy_from(on_cpu->parameters());
  data::BatchLoader cpu_loader(set, cpu, options), gpu_loader(set, gpu, options);
  const train::EvalResult want = train::evaluate(cpu, *on_cpu, cpu_loader, 10);
  const train::EvalResult got = train::evaluate(gpu, *on_gpu, gpu_loader, 10);
  EXPECT_EQ(got.samples, 300);
  EXPECT_NEAR(got.loss, want.loss, 1e-5 * want.loss);
  EXPECT_NEAR(got.top1, want.top1, 2.0 / 300);
  EXPECT_NEAR(got.top5, want.top5, 2.0 / 300);
  int64_t differing = 0;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) differing += std::abs(got.confusion.count(t, p) - want.confusion.count(t, p));
  EXPECT_LE(differing, 4) << "confusion cells differ by more than two flipped images";
  ASSERT_EQ(got.misclassified.size(), want.misclassified.size());
  // Matched by test index: a flipped image shifts the records after it.
  int64_t same = 0;
  for (const train::Misclassified& g : got.misclassified)
    for (const train::Misclassified& w : want.misclassified)
      if (g.index == w.index && g.predicted == w.predicted &&
          std::abs(g.confidence - w.confidence) < 1e-5)
        ++same;
  EXPECT_GE(same, static_cast<int64_t>(want.misclassified.size()) - 2);
}

}  // namespace
}  // namespace kestrel
