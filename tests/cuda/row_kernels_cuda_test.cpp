// The GPU's row kernels against the CPU's row functors: softmax-cross-entropy with a warp per
// row (class counts below, at and well above a warp, in place and not), and evaluation's
// per-batch accumulation with one block over the rows (more rows than the block has threads,
// more misclassified rows than record slots, two batches in a row). Both also give the same
// bits on a second GPU run.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "engine/ops/cross_entropy.hpp"
#include "engine/ops/row_dispatch.hpp"
#include "tests/cuda/cuda_support.hpp"

namespace kestrel {
namespace {

using test::gpu0;

class CudaSoftmaxCrossEntropyRows
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, float, bool>> {};

TEST_P(CudaSoftmaxCrossEntropyRows, MatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const auto [rows, classes, smoothing, in_place] = GetParam();
  std::mt19937_64 gen(test::test_seed());
  const Tensor logits = test::random_tensor(Shape{rows, classes}, gen, -6.0f, 6.0f);
  const Tensor labels = test::random_labels(rows, static_cast<int32_t>(classes), gen);
  const Context cpu, gpu(gpu0());
  const ops::CrossEntropySpec spec{.label_smoothing = smoothing};

  Tensor cpu_logits = logits.to(Device::cpu()), cpu_grad = Tensor::zeros(logits.shape());
  Tensor* cpu_out = in_place ? &cpu_logits : &cpu_grad;
  const float want = ops::cross_entropy_forward_backward(cpu, cpu_logits, labels, cpu_out, spec);

  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    Tensor g_logits = logits.to(gpu0()), g_labels = labels.to(gpu0());
    Tensor g_grad = Tensor::empty(logits.shape(), DType::F32, gpu0());
    g_grad.fill(NAN);
    Tensor* g_out = in_place ? &g_logits : &g_grad;
    const float got = ops::cross_entropy_forward_backward(gpu, g_logits, g_labels, g_out, spec);
    EXPECT_NEAR(got, want, 1e-5 * std::abs(want) + 1e-6);
    EXPECT_TRUE(test::gpu_matches_cpu(*cpu_out, *g_out, 1e-5, 1e-7));
    const std::vector<float> values = g_out->to_vector();
    if (run == 0)
      first = values;
    else
      EXPECT_EQ(std::memcmp(first.data(), values.data(), first.size() * sizeof(float)), 0)
          << "a second GPU run gave other bits";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaSoftmaxCrossEntropyRows,
                         ::testing::Values(std::make_tuple(int64_t{1}, int64_t{1}, 0.0f, false),
                                           std::make_tuple(int64_t{37}, int64_t{10}, 0.0f, false),
                                           std::make_tuple(int64_t{37}, int64_t{32}, 0.1f, true),
                                           std::make_tuple(int64_t{9}, int64_t{33}, 0.1f, false),
                                           std::make_tuple(int64_t{300}, int64_t{1000}, 0.1f, true),
                                           std::make_tuple(int64_t{1025}, int64_t{100}, 0.0f,
                                                           true)));

// One batch's inputs to AccumulateEvalBatch on the host.
struct EvalBatch {
  std::vector<float> logits;
  std::vector<int32_t> labels, predicted, top5, indices;
};

EvalBatch random_batch(int64_t rows, int64_t classes, int32_t first_index, std::mt19937_64& gen) {
  EvalBatch b;
  std::uniform_real_distribution<float> logit(-3.0f, 3.0f);
  std::uniform_int_distribution<int32_t> cls(0, static_cast<int32_t>(classes) - 1), bit(0, 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < classes; ++k) b.logits.push_back(logit(gen));
    // Mostly right, as a trained model: about a third of the rows misclassified.
    b.labels.push_back(cls(gen));
    b.predicted.push_back(bit(gen) || bit(gen) ? b.labels.back() : cls(gen));
    b.top5.push_back(bit(gen));
    b.indices.push_back(first_index + static_cast<int32_t>(r));
  }
  return b;
}

struct EvalState {
  Tensor confusion, totals, records;
};

EvalState empty_state(Device d, int64_t classes, int64_t capacity) {
  // EvalTotals is 2 int64, EvalRecord 3 int64-sized words (index, label+predicted, confidence).
  static_assert(sizeof(kernels::EvalTotals) == 16 && sizeof(kernels::EvalRecord) == 24);
  return {Tensor::zeros(Shape{classes, classes}, DType::I64, d),
          Tensor::zeros(Shape{2}, DType::I64, d),
          Tensor::zeros(Shape{capacity * 3}, DType::I64, d)};
}

void accumulate(const Context& ctx, const EvalBatch& b, int64_t classes, EvalState& s) {
  const int64_t rows = static_cast<int64_t>(b.labels.size());
  const Tensor logits = Tensor::from_vector(Shape{rows, classes}, b.logits).to(ctx.device());
  const Tensor labels = Tensor::from_vector(Shape{rows}, b.labels).to(ctx.device());
  const Tensor predicted = Tensor::from_vector(Shape{rows}, b.predicted).to(ctx.device());
  const Tensor top5 = Tensor::from_vector(Shape{rows}, b.top5).to(ctx.device());
  const Tensor indices = Tensor::from_vector(Shape{rows}, b.indices).to(ctx.device());
  ops::detail::launch_accumulate_eval_batch(
      ctx,
      kernels::AccumulateEvalBatch{
          logits.data<float>(), labels.data<int32_t>(), predicted.data<int32_t>(),
          top5.data<int32_t>(), indices.data<int32_t>(), rows, classes, s.confusion.data<int64_t>(),
          reinterpret_cast<kernels::EvalTotals*>(s.totals.data<int64_t>()),
          reinterpret_cast<kernels::EvalRecord*>(s.records.data<int64_t>()),
          s.records.numel() / 3});
  ctx.synchronize();
}

std::vector<int64_t> words(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  const int64_t* p = host.data<int64_t>();
  return std::vector<int64_t>(p, p + host.numel());
}

TEST(CudaAccumulateEvalBatch, MatchesCpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  constexpr int64_t kClasses = 10, kCapacity = 100;
  const EvalBatch first = random_batch(600, kClasses, 0, gen);  // > 256 rows, about 135 wrong
  const EvalBatch second = random_batch(77, kClasses, 600, gen);
  const Context cpu, gpu(gpu0());
  EvalState want = empty_state(Device::cpu(), kClasses, kCapacity);
  accumulate(cpu, first, kClasses, want);
  accumulate(cpu, second, kClasses, want);
  std::vector<int64_t> first_run;
  for (int run = 0; run < 2; ++run) {
    EvalState got = empty_state(gpu0(), kClasses, kCapacity);
    accumulate(gpu, first, kClasses, got);
    accumulate(gpu, second, kClasses, got);
    EXPECT_EQ(words(got.confusion), words(want.confusion));
    EXPECT_EQ(words(got.totals), words(want.totals));
    const Tensor g = got.records.to(Device::cpu()), w = want.records;
    const auto* gr = reinterpret_cast<const kernels::EvalRecord*>(g.data<int64_t>());
    const auto* wr = reinterpret_cast<const kernels::EvalRecord*>(w.data<int64_t>());
    for (int64_t i = 0; i < kCapacity; ++i) {
      EXPECT_EQ(gr[i].index, wr[i].index) << "record " << i;
      EXPECT_EQ(gr[i].label, wr[i].label) << "record " << i;
      EXPECT_EQ(gr[i].predicted, wr[i].predicted) << "record " << i;
      EXPECT_NEAR(gr[i].confidence, wr[i].confidence, 1e-12) << "record " << i;
    }
    const std::vector<int64_t> all = words(got.records);
    if (run == 0)
      first_run = all;
    else
      EXPECT_EQ(all, first_run) << "a second GPU run gave other records";
  }
}

}  // namespace
}  // namespace kestrel
