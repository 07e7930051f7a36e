// Gradient buckets and the data-parallel step. The bucket plan tiles the flat gradient buffer
// with whole layers, last layers first; every bucket starts exactly once per step, only after
// backward has finished its gradients; with one rank the data-parallel step is bit for bit the
// single-process step; and R ranks (threads, test::ThreadCommunicator) on the shards of a
// global batch take the same step as one process on the whole batch.
#include "engine/train/gradient_reducer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "engine/dist/local_communicator.hpp"
#include "engine/optim/adam.hpp"
#include "engine/optim/sgd.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "kernels/cpu/parallel.hpp"
#include "models/registry.hpp"
#include "tests/support/errors.hpp"
#include "tests/support/random.hpp"
#include "tests/support/thread_communicator.hpp"

namespace kestrel::train {
namespace {

nn::ParamInfo param(const char* name, int64_t numel, int64_t offset, int layer) {
  return {name, Shape{numel}, offset, layer, nn::ParamKind::Weight};
}

void expect_tiling(const std::vector<GradientBucket>& buckets, int64_t flat_numel) {
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets.front().end, flat_numel);
  EXPECT_EQ(buckets.back().begin, 0);
  for (size_t i = 0; i + 1 < buckets.size(); ++i) {
    EXPECT_EQ(buckets[i + 1].end, buckets[i].begin) << "bucket " << i + 1;
    EXPECT_LT(buckets[i + 1].last_layer, buckets[i].first_layer) << "bucket " << i + 1;
  }
  for (const GradientBucket& b : buckets) {
    EXPECT_LT(b.begin, b.end);
    EXPECT_LE(b.first_layer, b.last_layer);
  }
}

TEST(GradientBuckets, TileTheBufferWithWholeLayersLastFirst) {
  // Layers 0, 2, 5 and 6 hold parameters (64-aligned like the graph's), 1, 3 and 4 none.
  const std::vector<nn::ParamInfo> params{
      param("a.weight", 100, 0, 0),    param("a.bias", 10, 128, 0),
      param("b.weight", 1000, 192, 2), param("c.weight", 50, 1216, 5),
      param("d.weight", 300, 1280, 6), param("d.bias", 3, 1600, 6)};
  const int64_t flat = 1664;
  // One element per bucket: every layer alone.
  auto buckets = plan_gradient_buckets(params, flat, 1);
  expect_tiling(buckets, flat);
  ASSERT_EQ(buckets.size(), 4u);
  EXPECT_EQ(buckets[0].first_layer, 6);
  EXPECT_EQ(buckets[0].begin, 1280);
  EXPECT_EQ(buckets[1].first_layer, 5);
  EXPECT_EQ(buckets[1].begin, 1216);
  EXPECT_EQ(buckets[1].end, 1280);
  EXPECT_EQ(buckets[2].first_layer, 2);
  EXPECT_EQ(buckets[3].first_layer, 0);
  // 400 elements: layer 6 (323) and 5 (50) fill the first bucket past nothing, so it takes
  // layer 2 too (1000 more); then layer 0 alone.
  buckets = plan_gradient_buckets(params, flat, 400);
  expect_tiling(buckets, flat);
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].first_layer, 2);
  EXPECT_EQ(buckets[0].last_layer, 6);
  EXPECT_EQ(buckets[1].first_layer, 0);
  EXPECT_EQ(buckets[1].last_layer, 0);
  // Everything in one.
  buckets = plan_gradient_buckets(params, flat, 1 << 30);
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].begin, 0);
  EXPECT_EQ(buckets[0].end, flat);
  EXPECT_EQ(buckets[0].first_layer, 0);
  EXPECT_EQ(buckets[0].last_layer, 6);
}

TEST(GradientBuckets, RejectParametersOutOfOrder) {
  const std::vector<nn::ParamInfo> params{param("b.weight", 10, 64, 1),
                                          param("a.weight", 10, 0, 0)};
  test::expect_error([&] { plan_gradient_buckets(params, 128, 1); }, "out of layer order");
}

// Records each bucket's gradients as they were when its sum started.
class RecordingCommunicator final : public dist::Communicator {
 public:
  std::string_view backend() const override { return "recording"; }
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  void start_all_reduce_sum(float* data, int64_t n) override {
    started.push_back({data, n, std::vector<float>(data, data + n)});
  }
  void progress() override { ++progress_calls; }
  void finish_all_reduces() override { ++finishes; }
  void broadcast(float*, int64_t, int) override {}
  void all_reduce_sum_doubles(double*, int64_t) override { ++device_double_sums; }
  void all_reduce_sum_host(std::span<double>) override { ++host_sums; }
  void all_reduce_sum_host(std::span<int64_t>) override { ++host_sums; }
  void broadcast_host(std::span<std::byte>, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string& reason) override { throw Error(reason); }

  struct Start {
    float* data;
    int64_t n;
    std::vector<float> values;
  };
  std::vector<Start> started;
  int progress_calls = 0, finishes = 0, host_sums = 0, device_double_sums = 0;
};

struct Lenet {
  Context ctx;
  std::unique_ptr<nn::Graph> graph;
  Tensor images, labels, dlogits;

  Lenet(int64_t batch, uint64_t seed) {
    std::mt19937_64 gen(test::test_seed() + seed);
    graph = models::build_model("lenet5", models::ModelInput{1, 28, 28, 10});
    graph->build(ctx, batch);
    graph->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
    images = test::random_tensor(Shape{batch, 1, 28, 28}, gen);
    labels = test::random_labels(batch, 10, gen);
    dlogits = Tensor::empty(Shape{batch, 10});
  }

  std::vector<float> parameters() const {
    const Tensor& p = graph->parameters();
    return std::vector<float>(p.data<float>(), p.data<float>() + p.numel());
  }
};

TEST(GradientReducer, StartsEveryBucketOnceAfterBackwardFinishedIt) {
  Lenet net(8, 1);
  RecordingCommunicator comm;
  // ~8 KiB buckets: LeNet-5's 44,426 gradients in several.
  GradientReducer reducer(comm, *net.graph, 8 * 1024);
  ASSERT_GE(reducer.buckets().size(), 3u);
  optim::Sgd sgd({.lr = 0.01f});
  StepLedger ledger(net.ctx);
  train_step(net.ctx, *net.graph, sgd, net.images, net.labels, 0, net.dlogits, ledger,
             {.global_rows = 8, .reducer = &reducer});
  ASSERT_FALSE(ledger.read().halted);
  ASSERT_EQ(comm.started.size(), reducer.buckets().size());
  EXPECT_EQ(comm.finishes, 1);
  // One rank: the step's loss and hits are not summed at all, on the host or the device.
  EXPECT_EQ(comm.host_sums, 0);
  EXPECT_EQ(comm.device_double_sums, 0);
  EXPECT_EQ(comm.progress_calls, net.graph->size());
  // In plan order, each over its range, holding the final gradients already.
  const float* grads = net.graph->gradients().data<float>();
  for (size_t i = 0; i < comm.started.size(); ++i) {
    const GradientBucket& b = reducer.buckets()[i];
    EXPECT_EQ(comm.started[i].data, grads + b.begin) << "bucket " << i;
    EXPECT_EQ(comm.started[i].n, b.end - b.begin) << "bucket " << i;
    EXPECT_EQ(std::memcmp(comm.started[i].values.data(), grads + b.begin,
                          static_cast<size_t>(b.end - b.begin) * sizeof(float)),
              0)
        << "bucket " << i << " started before backward had finished its gradients";
  }
  // A rank without rows contributes zeros to every bucket.
  comm.started.clear();
  train_step(net.ctx, *net.graph, sgd, Tensor(), Tensor(), 1, net.dlogits, ledger,
             {.global_rows = 8, .reducer = &reducer});
  EXPECT_FALSE(ledger.read().halted);
  ASSERT_EQ(comm.started.size(), reducer.buckets().size());
  for (const auto& s : comm.started)
    EXPECT_TRUE(std::all_of(s.values.begin(), s.values.end(), [](float v) { return v == 0.0f; }));
}

TEST(GradientReducer, OneRankStepIsBitForBitTheSingleProcessStep) {
  Lenet a(12, 2), b(12, 2);
  optim::Adam adam_a(optim::AdamOptions::adamw(1e-3f, 5e-4f));
  optim::Adam adam_b(optim::AdamOptions::adamw(1e-3f, 5e-4f));
  dist::LocalCommunicator local;
  GradientReducer reducer(local, *b.graph, 4 * 1024);
  StepLedger ledger_a(a.ctx), ledger_b(b.ctx);
  for (int64_t step = 0; step < 3; ++step) {
    // The last step on a short batch, as at the end of an epoch.
    const int64_t rows = step == 2 ? 7 : 12;
    const Tensor images = a.images.slice(0, rows), labels = a.labels.slice(0, rows);
    train_step(a.ctx, *a.graph, adam_a, images, labels, step, a.dlogits, ledger_a,
               {.clip_norm = 1.0f});
    train_step(b.ctx, *b.graph, adam_b, images, labels, step, b.dlogits, ledger_b,
               {.clip_norm = 1.0f, .global_rows = rows, .reducer = &reducer});
    const LedgerSnapshot ra = ledger_a.read(), rb = ledger_b.read();
    EXPECT_EQ(std::memcmp(&ra.last_loss, &rb.last_loss, sizeof(float)), 0) << "step " << step;
    EXPECT_EQ(ra.correct, rb.correct);
    EXPECT_EQ(ra.loss_sum, rb.loss_sum);
  }
  const auto pa = a.parameters(), pb = b.parameters();
  EXPECT_EQ(std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)), 0);
}

// R ranks as threads: rank r takes rows r, r + R, ... of each global batch (the loader's rule),
// with a short last batch that leaves some ranks empty. Their parameters after the steps must
// match one process on the whole batches: the only difference is the order of the gradient sums
// (per rank, then across ranks), so the tolerance is that of float32 sums, amplified a little by
// the optimizer over a few steps (SGD with momentum: linear in the gradients).
TEST(GradientReducer, RanksOnShardsMatchOneProcessOnTheGlobalBatch) {
  constexpr int64_t kGlobal = 12;
  const std::vector<int64_t> step_rows{12, 12,
                                       4};  // 4 rows over 3 ranks: 2, 1, 1; over 5: one empty
  Lenet one(kGlobal, 3);
  optim::Sgd sgd_one({.lr = 0.05f, .momentum = 0.9f});
  StepLedger ledger_one(one.ctx);
  for (size_t s = 0; s < step_rows.size(); ++s) {
    const int64_t rows = step_rows[s];
    train_step(one.ctx, *one.graph, sgd_one, one.images.slice(0, rows), one.labels.slice(0, rows),
               static_cast<int64_t>(s), one.dlogits, ledger_one);
  }
  const std::vector<float> expected = one.parameters();
  const LedgerSnapshot expected_tally = ledger_one.read();

  cpu::set_num_threads(1);  // threads of their own: keep OpenMP out of the way
  for (int ranks : {2, 3, 5}) {
    SCOPED_TRACE(testing::Message() << ranks << " ranks");
    test::ThreadGroup group(ranks);
    std::vector<std::vector<float>> results(static_cast<size_t>(ranks));
    std::vector<LedgerSnapshot> tallies(static_cast<size_t>(ranks));
    std::vector<std::thread> threads;
    for (int rank = 0; rank < ranks; ++rank) {
      threads.emplace_back([&, rank] {
        test::ThreadCommunicator comm(group, rank);
        const int64_t per_rank = (kGlobal + ranks - 1) / ranks;
        Lenet mine(per_rank, 3);  // the same initial parameters on every rank
        optim::Sgd sgd({.lr = 0.05f, .momentum = 0.9f});
        GradientReducer reducer(comm, *mine.graph, 16 * 1024);
        StepLedger ledger(mine.ctx);
        for (size_t s = 0; s < step_rows.size(); ++s) {
          // This rank's rows of the global batch: r, r + R, ...
          std::vector<float> image_rows;
          std::vector<int32_t> label_rows;
          const int64_t pixels = 28 * 28;
          const float* all_images = one.images.data<float>();
          const int32_t* all_labels = one.labels.data<int32_t>();
          for (int64_t g = rank; g < step_rows[s]; g += ranks) {
            image_rows.insert(image_rows.end(), all_images + g * pixels,
                              all_images + (g + 1) * pixels);
            label_rows.push_back(all_labels[g]);
          }
          const int64_t n = static_cast<int64_t>(label_rows.size());
          const Tensor images =
              n > 0 ? Tensor::from_vector(Shape{n, 1, 28, 28}, image_rows) : Tensor();
          const Tensor labels = n > 0 ? Tensor::from_vector(Shape{n}, label_rows) : Tensor();
          train_step(mine.ctx, *mine.graph, sgd, images, labels, static_cast<int64_t>(s),
                     mine.dlogits, ledger, {.global_rows = step_rows[s], .reducer = &reducer});
        }
        results[static_cast<size_t>(rank)] = mine.parameters();
        tallies[static_cast<size_t>(rank)] = ledger.read();
      });
    }
    for (auto& t : threads) t.join();
    for (int rank = 1; rank < ranks; ++rank) {
      EXPECT_EQ(results[static_cast<size_t>(rank)], results[0])
          << "rank " << rank << " differs from rank 0";
      // The ranks' ledgers hold the global batches' numbers, the same on every rank.
      EXPECT_EQ(tallies[static_cast<size_t>(rank)].loss_sum, tallies[0].loss_sum);
      EXPECT_EQ(tallies[static_cast<size_t>(rank)].correct, tallies[0].correct);
    }
    EXPECT_FALSE(tallies[0].halted);
    EXPECT_EQ(tallies[0].rows, expected_tally.rows);
    EXPECT_EQ(tallies[0].correct, expected_tally.correct);
    EXPECT_EQ(tallies[0].steps, 3);
    EXPECT_NEAR(tallies[0].loss_sum, expected_tally.loss_sum, 1e-5 * expected_tally.loss_sum);
    double worst = 0.0;
    for (size_t i = 0; i < expected.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(results[0][i]) - expected[i]) /
                                  (1e-3 + std::abs(static_cast<double>(expected[i]))));
    EXPECT_LT(worst, 1e-5) << "largest difference relative to |expected| + 1e-3";
  }
  cpu::set_num_threads(0);
}

}  // namespace
}  // namespace kestrel::train
