// NCCL with one rank on one GPU (the most any machine here has): the collectives are the
// identity and keep stream order, and training through the NCCL communicator, one process per
// GPU or one thread per GPU (--gpus), ends with exactly the parameters of training without a
// communicator. Bitwise: with one rank NCCL's sums copy, the loss scale is 1 and the trainer
// runs the same kernels; deterministic GPU algorithms make the two runs repeatable.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "apps/commands/model_builder.hpp"
#include "engine/checkpoint/safetensors.hpp"
#include "engine/dist/local_communicator.hpp"
#include "engine/dist/make_communicator.hpp"
#include "engine/train/multi_gpu.hpp"
#include "engine/train/trainer.hpp"
#include "tests/cuda/cuda_support.hpp"
#include "tests/support/scratch_dir.hpp"

#if defined(KESTREL_HAVE_NCCL)
#include "engine/dist/cuda/nccl_communicator.hpp"
#endif

namespace kestrel {
namespace {

#define KESTREL_SKIP_WITHOUT_NCCL()                                                        \
  do {                                                                                     \
    KESTREL_SKIP_WITHOUT_GPU();                                                            \
    if (!dist::dist_support().nccl) {                                                      \
      if (test::gpu_required()) FAIL() << "KESTREL_REQUIRE_GPU=1 but kestrel has no NCCL"; \
      GTEST_SKIP() << "kestrel was built without NCCL";                                    \
    }                                                                                      \
  } while (0)

#if defined(KESTREL_HAVE_NCCL)
std::unique_ptr<dist::Communicator> one_rank_nccl() {
  dist::LocalCommunicator bootstrap;
  return dist::make_nccl_communicator(bootstrap, 0, 60.0);
}
#endif

TEST(NcclCuda, OneRankCollectivesAreTheIdentityInStreamOrder) {
  KESTREL_SKIP_WITHOUT_NCCL();
#if defined(KESTREL_HAVE_NCCL)
  const auto comm = one_rank_nccl();
  EXPECT_EQ(comm->backend(), "nccl");
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  Context ctx(test::gpu0());
  std::mt19937_64 gen(test::test_seed());
  const Tensor host = test::random_tensor(Shape{100003}, gen);
  Tensor x = Tensor::empty(Shape{100003}, DType::F32, ctx.device());
  // Queued on the compute stream just before the collectives: they must wait for it.
  x.copy_from(host);
  x.fill(3.0f);
  comm->start_all_reduce_sum(x.data<float>(), 50000);
  comm->start_all_reduce_sum(x.data<float>() + 50000, 50003);
  comm->finish_all_reduces();
  std::vector<float> v = x.to_vector();
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float f) { return f == 3.0f; }));
  x.copy_from(host);
  comm->broadcast(x.data<float>(), x.numel(), 0);
  v = x.to_vector();
  const std::vector<float> h = host.to_vector();
  EXPECT_EQ(std::memcmp(v.data(), h.data(), h.size() * sizeof(float)), 0);
  std::vector<double> d{1.25, -2.5};
  comm->all_reduce_sum_host(d);
  EXPECT_EQ(d, (std::vector<double>{1.25, -2.5}));
  std::vector<int64_t> i{int64_t{1} << 40, 7};
  comm->all_reduce_sum_host(i);
  EXPECT_EQ(i, (std::vector<int64_t>{int64_t{1} << 40, 7}));
  // A step's tally: two doubles of device memory, written just before on the compute stream.
  Tensor tally = Tensor::empty(Shape{2}, DType::F64, ctx.device());
  Tensor tally_host = Tensor::empty(Shape{2}, DType::F64);
  tally_host.data<double>()[0] = 0.3125;
  tally_host.data<double>()[1] = 17.0;
  tally.copy_from(tally_host);
  comm->all_reduce_sum_doubles(tally.data<double>(), 2);
  const Tensor back = tally.to(Device::cpu());
  EXPECT_EQ(back.data<double>()[0], 0.3125);
  EXPECT_EQ(back.data<double>()[1], 17.0);
  comm->barrier();
#endif
}

train::TrainConfig small_gpu_run(const test::ScratchDir& root, const std::string& name) {
  train::TrainConfig c = train::default_config("lenet5", "synthetic");
  c.device = "cuda:0";
  c.deterministic = true;
  c.out_dir = root.path();
  c.name = name;
  c.train_limit = 300;  // 3 batches of 128, the last one short
  c.batch = 128;
  c.epochs = 2;
  c.dist_bucket_mb = 0.05;  // several buckets
  return c;
}

std::vector<float> saved_parameters(const train::TrainConfig& c) {
  const auto f = checkpoint::read_safetensors(c.out_dir + "/" + c.name + "/last.safetensors");
  std::vector<float> all;
  for (const auto& e : f.entries) {
    const float* p = static_cast<const float*>(e.tensor.raw_data());
    all.insert(all.end(), p, p + e.tensor.numel());
  }
  return all;
}

class Quiet final : public train::TrainObserver {};

TEST(NcclCuda, OneRankTrainingEqualsTrainingWithoutACommunicator) {
  KESTREL_SKIP_WITHOUT_NCCL();
#if defined(KESTREL_HAVE_NCCL)
  test::ScratchDir root;
  Quiet quiet;
  const train::TrainConfig plain = small_gpu_run(root, "plain");
  ASSERT_EQ(train::run_training(plain, apps::model_builder(), quiet).status,
            train::RunStatus::Completed);

  const train::TrainConfig rank = small_gpu_run(root, "nccl-rank");
  {
    const auto comm = one_rank_nccl();
    ASSERT_EQ(train::run_training(rank, apps::model_builder(), quiet, *comm).status,
              train::RunStatus::Completed);
  }
  const train::TrainConfig threads = small_gpu_run(root, "nccl-threads");
  {
    auto comms = dist::make_gpu_communicators({0}, {});
    ASSERT_EQ(train::run_training_on_gpus(threads, {0}, comms, apps::model_builder(), quiet).status,
              train::RunStatus::Completed);
  }
  const std::vector<float> expected = saved_parameters(plain);
  ASSERT_FALSE(expected.empty());
  for (const auto* c : {&rank, &threads}) {
    const std::vector<float> got = saved_parameters(*c);
    ASSERT_EQ(got.size(), expected.size()) << c->name;
    size_t differing = 0;
    for (size_t i = 0; i < got.size(); ++i)
      differing += std::memcmp(&got[i], &expected[i], sizeof(float)) != 0 ? 1 : 0;
    EXPECT_EQ(differing, 0u) << c->name << ": values differ from the run without a communicator";
  }
#endif
}

}  // namespace
}  // namespace kestrel
