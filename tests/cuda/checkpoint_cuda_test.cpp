// Checkpoints of a model and optimizer that live on the GPU: the file holds the GPU bytes
// exactly, the restore puts parameters and optimizer state back on the GPU, and the next GPU
// step from the restored state equals the next step from the original, bit for bit.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/checkpoint/checkpoint.hpp"
#include "engine/optim/adam.hpp"
#include "tests/cuda/cuda_support.hpp"
#include "tests/support/scratch_dir.hpp"

namespace kestrel {
namespace {

using test::gpu0;

struct GpuModel {
  Tensor flat;
  checkpoint::NamedTensors params;
};

GpuModel make_gpu_model(std::mt19937_64& gen) {
  GpuModel m{test::random_tensor(Shape{406}, gen).to(gpu0()), {}};
  m.params = {{"conv1.weight", m.flat.sub(0, Shape{6, 1, 5, 5})},
              {"conv1.bias", m.flat.sub(150, Shape{6})},
              {"fc1.weight", m.flat.sub(156, Shape{10, 24})},
              {"fc1.bias", m.flat.sub(396, Shape{10})}};
  return m;
}

bool same_bytes_on_host(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(CudaCheckpoint, GpuStateRoundTripsAndTheNextStepAgrees) {
  KESTREL_SKIP_WITHOUT_GPU();
  test::ScratchDir dir;
  std::mt19937_64 gen(test::test_seed());
  Context gpu(gpu0());
  GpuModel original = make_gpu_model(gen);
  optim::Adam adam(optim::AdamOptions::adamw(3e-3f, 0.05f));
  for (int s = 0; s < 3; ++s)
    adam.step(gpu, original.flat, test::random_tensor(Shape{406}, gen).to(gpu0()));

  checkpoint::CheckpointState state;
  state.model = "lenet5";
  state.dataset = "mnist";
  const std::string path = dir.file("gpu.safetensors");
  checkpoint::save_checkpoint(path, original.params, &adam, state);

  const auto loaded = checkpoint::load_checkpoint(path);
  EXPECT_TRUE(
      same_bytes_on_host(loaded.file.find("conv1.weight")->tensor, original.params[0].second));
  EXPECT_TRUE(
      same_bytes_on_host(loaded.file.find("optimizer.exp_avg_sq")->tensor, adam.state()[1].second));

  GpuModel restored = make_gpu_model(gen);
  optim::Adam adam2(optim::AdamOptions::adamw(3e-3f, 0.05f));
  checkpoint::restore_parameters(loaded, restored.params, "lenet5");
  checkpoint::restore_optimizer(loaded, adam2, restored.flat);
  ASSERT_EQ(adam2.state().size(), 2u);
  EXPECT_TRUE(adam2.state()[0].second.device() == gpu0());
  EXPECT_TRUE(same_bytes_on_host(restored.flat, original.flat));

  const Tensor grads = test::random_tensor(Shape{406}, gen).to(gpu0());
  adam.step(gpu, original.flat, grads);
  adam2.step(gpu, restored.flat, grads);
  EXPECT_TRUE(same_bytes_on_host(restored.flat, original.flat));
  EXPECT_TRUE(same_bytes_on_host(adam2.state()[0].second, adam.state()[0].second));
}

}  // namespace
}  // namespace kestrel
