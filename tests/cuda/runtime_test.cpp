// The CUDA runtime: detection, contexts, pools and host<->device copies. Each test needs a GPU.
#include <gtest/gtest.h>

#include <random>

#include "engine/memory/memory_pool.hpp"
#include "engine/runtime/context.hpp"
#include "engine/runtime/cuda/device_context.hpp"
#include "engine/runtime/cuda/event.hpp"
#include "engine/runtime/cuda/pinned_buffer.hpp"
#include "engine/runtime/profiler.hpp"
#include "kernels/cuda/check.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/random.hpp"

namespace kestrel {
namespace {

TEST(CudaRuntime, NoGpuMeansAClearErrorForCudaDevices) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  try {
    Context ctx(Device::cuda(0));
    FAIL() << "expected kestrel::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda:0 is not available"), std::string::npos) << e.what();
  }
}

// `--profile-steps`: the bracket starts and stops the CUDA profiler around steps 1..2 of a
// loop with GPU work queued, and a bracket still capturing when it is destroyed (a run that
// ended early) stops cleanly. Outside nsys both calls are accepted no-ops, so this checks that
// the calls are made in a valid order (cudaProfilerStop before Start is no error either; a
// failing call would throw).
TEST(CudaRuntime, ProfilerBracketAroundSteps) {
  KESTREL_SKIP_WITHOUT_GPU();
  Context ctx(Device::cuda(0));
  Tensor t = Tensor::empty(Shape{1 << 20}, DType::F32, ctx.device());
  {
    ProfilerBracket bracket(ctx, 1, 2);
    for (int64_t step = 0; step < 4; ++step) {
      bracket.before_step(step);
      t.fill(static_cast<float>(step));
      bracket.after_step(step);
    }
  }
  {
    ProfilerBracket unfinished(ctx, 0, 10);
    unfinished.before_step(0);
  }
  EXPECT_EQ(t.to_vector()[12345], 3.0f);
}

TEST(CudaRuntime, EnvironmentListsEveryGpu) {
  KESTREL_SKIP_WITHOUT_GPU();
  const auto env = query_gpu_environment();
  ASSERT_EQ(static_cast<int>(env.gpus.size()), cuda_device_count());
  for (const auto& g : env.gpus) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_GT(g.total_memory, 0u);
    EXPECT_GT(g.multiprocessors, 0);
    EXPECT_GE(g.compute_major, 7);
  }
  EXPECT_FALSE(env.runtime_version.empty());
}

TEST(CudaRuntime, RoundTripThroughDeviceMemoryKeepsEveryBit) {
  KESTREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 gen(test::test_seed());
  const Tensor host = test::random_tensor(Shape{3, 5, 7, 11}, gen);
  const Tensor dev = host.to(Device::cuda(0));
  EXPECT_EQ(dev.device(), Device::cuda(0));
  EXPECT_EQ(dev.to_vector(), host.to_vector());
}

TEST(CudaRuntime, FillAndZerosOnDevice) {
  KESTREL_SKIP_WITHOUT_GPU();
  Tensor t = Tensor::zeros(Shape{1000}, DType::F32, Device::cuda(0));
  for (float v : t.to_vector()) ASSERT_EQ(v, 0.0f);
  t.fill(2.5f);
  for (float v : t.to_vector()) ASSERT_EQ(v, 2.5f);
}

TEST(CudaRuntime, DevicePoolReusesFreedBlocks) {
  KESTREL_SKIP_WITHOUT_GPU();
  Context ctx(Device::cuda(0));
  const auto before = ctx.pool().stats();
  { Tensor a = Tensor::empty(Shape{1 << 20}, DType::F32, Device::cuda(0)); }
  const auto mid = ctx.pool().stats();
  { Tensor b = Tensor::empty(Shape{1 << 20}, DType::F32, Device::cuda(0)); }
  const auto after = ctx.pool().stats();
  EXPECT_GE(mid.raw_allocations, before.raw_allocations);
  EXPECT_EQ(after.raw_allocations, mid.raw_allocations) << "second allocation was not cached";
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

TEST(CudaRuntime, OutOfMemoryNamesBytesAndSuggestsSmallerBatch) {
  KESTREL_SKIP_WITHOUT_GPU();
  try {
    Tensor huge = Tensor::empty(Shape{int64_t{1} << 40}, DType::F32, Device::cuda(0));
    FAIL() << "allocating 4 TiB succeeded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of GPU memory on cuda:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bytes free"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--batch"), std::string::npos) << msg;
  }
}

TEST(CudaRuntime, EventsOrderTheCommunicationStreamAfterCompute) {
  KESTREL_SKIP_WITHOUT_GPU();
  Context ctx(Device::cuda(0));
  auto& dc = ctx.cuda();
  EXPECT_NE(dc.compute_stream(), dc.comm_stream());
  Tensor t = Tensor::empty(Shape{1 << 22}, DType::F32, Device::cuda(0));
  cuda::Event start(true), produced(true);
  start.record(dc.compute_stream());
  t.fill(3.0f);  // queued on the compute stream
  produced.record(dc.compute_stream());
  produced.wait_on(dc.comm_stream());
  cuda::PinnedBuffer host(sizeof(float) * 4);
  host.copy_from_device(t.data<float>() + (1 << 21), sizeof(float) * 4, dc.comm_stream());
  KESTREL_CUDA_CHECK(cudaStreamSynchronize(dc.comm_stream()));
  const float* v = static_cast<const float*>(host.data());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v[i], 3.0f);
  EXPECT_TRUE(produced.done());
  EXPECT_GE(produced.elapsed_ms_since(start), 0.0f);
}

}  // namespace
}  // namespace kestrel
