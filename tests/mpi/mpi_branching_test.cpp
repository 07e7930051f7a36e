// A model with branches (a residual block and an Inception-style block) trained data-parallel
// over real MPI ranks against one process on the global batch: each rank takes rows r, r + R,
// ... of each batch, the gradient buckets fill as the nodes finish their backward (whatever
// the topology), and after a few SGD steps every rank holds the same parameters, within the
// float32 rounding of the other summation order of the one-process run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/optim/sgd.hpp"
#include "engine/train/gradient_reducer.hpp"
#include "engine/train/step_ledger.hpp"
#include "engine/train/train_step.hpp"
#include "tests/mpi/mpi_world.hpp"
#include "tests/support/branching_net.hpp"

namespace kestrel::train {
namespace {

constexpr int64_t kGlobal = 10, kClasses = 5;
const Shape kImage{2, 6, 6};

std::vector<float> values_of(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

TEST(MpiBranching, RanksOfABranchingModelMatchOneProcess) {
  dist::Communicator& comm = test::mpi_world();
  const int ranks = comm.size(), rank = comm.rank();
  // The same data on every rank (a fixed seed), values in [-1, 1).
  std::mt19937_64 gen(1234);
  std::uniform_real_distribution<float> pixel(-1.0f, 1.0f);
  std::uniform_int_distribution<int32_t> label(0, kClasses - 1);
  const int64_t pixels = kImage.numel();
  std::vector<float> images(static_cast<size_t>(kGlobal * pixels));
  std::vector<int32_t> labels(static_cast<size_t>(kGlobal));
  for (float& v : images) v = pixel(gen);
  for (int32_t& v : labels) v = label(gen);
  const std::vector<int64_t> step_rows{10, 10, 4};  // the last batch short: 4 rows over R ranks

  // One process on the global batches.
  Context ctx;
  auto one = test::branching_net(kImage[0], kClasses);
  one->build(ctx, kImage, kGlobal, kClasses);
  one->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
  optim::Sgd sgd_one({.lr = 0.05f, .momentum = 0.9f});
  StepLedger ledger_one(ctx);
  Tensor dlogits_one = Tensor::empty(Shape{kGlobal, kClasses});
  const Tensor all_images =
      Tensor::from_vector(Shape{kGlobal, kImage[0], kImage[1], kImage[2]}, images);
  const Tensor all_labels = Tensor::from_vector(Shape{kGlobal}, labels);
  for (size_t s = 0; s < step_rows.size(); ++s)
    train_step(ctx, *one, sgd_one, all_images.slice(0, step_rows[s]),
               all_labels.slice(0, step_rows[s]), static_cast<int64_t>(s), dlogits_one, ledger_one);
  const std::vector<float> expected = values_of(one->parameters());

  // This rank's shard, the gradients summed over the job.
  const int64_t per_rank = (kGlobal + ranks - 1) / ranks;
  auto mine = test::branching_net(kImage[0], kClasses);
  mine->build(ctx, kImage, per_rank, kClasses);
  mine->initialize(ctx, init::InitScheme::PyTorchDefault, 3);
  optim::Sgd sgd({.lr = 0.05f, .momentum = 0.9f});
  GradientReducer reducer(comm, *mine, 2 * 1024);  // several buckets
  EXPECT_GE(reducer.buckets().size(), 3u);
  StepLedger ledger(ctx);
  Tensor dlogits = Tensor::empty(Shape{per_rank, kClasses});
  for (size_t s = 0; s < step_rows.size(); ++s) {
    std::vector<float> image_rows;
    std::vector<int32_t> label_rows;
    for (int64_t g = rank; g < step_rows[s]; g += ranks) {
      image_rows.insert(image_rows.end(), images.begin() + g * pixels,
                        images.begin() + (g + 1) * pixels);
      label_rows.push_back(labels[static_cast<size_t>(g)]);
    }
    const int64_t n = static_cast<int64_t>(label_rows.size());
    const Tensor x =
        n > 0 ? Tensor::from_vector(Shape{n, kImage[0], kImage[1], kImage[2]}, image_rows)
              : Tensor();
    const Tensor y = n > 0 ? Tensor::from_vector(Shape{n}, label_rows) : Tensor();
    train_step(ctx, *mine, sgd, x, y, static_cast<int64_t>(s), dlogits, ledger,
               {.global_rows = step_rows[s], .reducer = &reducer});
  }
  const std::vector<float> got = values_of(mine->parameters());
  ASSERT_EQ(got.size(), expected.size());
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - expected[i]) /
                                (1e-3 + std::abs(static_cast<double>(expected[i]))));
  EXPECT_LT(worst, 1e-5) << "rank " << rank << ": largest difference relative to |expected| + 1e-3";

  // Every rank the same bits as rank 0.
  std::vector<float> rank0 = got;
  comm.broadcast_host(std::as_writable_bytes(std::span<float>(rank0)), 0);
  EXPECT_EQ(std::memcmp(rank0.data(), got.data(), got.size() * sizeof(float)), 0)
      << "rank " << rank << " differs from rank 0";
}

}  // namespace
}  // namespace kestrel::train
