// kestrel_bench_data: images/s of whole epochs of batch assembly (BatchLoader: shuffle, order
// upload, crop/flip draw, batch 128 gather + normalise + labels) on synthetic MNIST-shaped and
// CIFAR-shaped byte data, on the CPU with one thread and with all threads, and on GPU 0 when
// there is one. Each figure is the median of 5 epochs after 1 warm-up epoch; a GPU epoch is
// timed on the host up to ctx.synchronize(), so it includes the launches.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "kernels/cpu/parallel.hpp"

namespace {

using namespace kestrel;

struct Workload {
  const char* name;
  int64_t n, c, h, w;
  data::Normalization normalization;
  data::AugmentOptions augment;
};

data::ImageDataset synthetic(const Workload& wl) {
  data::ImageDataset d;
  d.name = wl.name;
  d.images = Tensor::empty(Shape{wl.n, wl.c, wl.h, wl.w}, DType::U8);
  d.labels = Tensor::empty(Shape{wl.n}, DType::I32);
  std::mt19937_64 gen(1234);
  uint8_t* bytes = d.images.data<uint8_t>();
  for (int64_t i = 0; i < d.images.numel(); ++i) bytes[i] = static_cast<uint8_t>(gen() >> 56);
  for (int64_t i = 0; i < wl.n; ++i) d.labels.data<int32_t>()[i] = static_cast<int32_t>(i % 10);
  d.classes = 10;
  return d;
}

double epoch_seconds(data::BatchLoader& loader, int64_t epoch) {
  const auto start = std::chrono::steady_clock::now();
  loader.start_epoch(epoch);
  int64_t batches = 0;
  for (data::Batch batch; loader.next(batch);) ++batches;
  loader.context().synchronize();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (batches != loader.batches_per_epoch()) std::fprintf(stderr, "short epoch\n");
  return elapsed.count();
}

void run(const Workload& wl, const data::ImageDataset& d, const Context& ctx,
         const std::string& where) {
  constexpr int kEpochs = 5;
  data::BatchLoader loader(d, ctx,
                           data::LoaderOptions::for_training(128, wl.normalization, wl.augment, 7));
  (void)epoch_seconds(loader, 0);  // warm-up: pool blocks, page faults, GPU module load
  std::vector<double> seconds;
  for (int e = 1; e <= kEpochs; ++e) seconds.push_back(epoch_seconds(loader, e));
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[kEpochs / 2];
  std::printf("%-6s %lldx%lldx%lld  %6lld images  %-18s %12.0f images/s  (%.4f s/epoch, median of %d)\n",
              wl.name, static_cast<long long>(wl.c), static_cast<long long>(wl.h),
              static_cast<long long>(wl.w), static_cast<long long>(wl.n), where.c_str(),
              static_cast<double>(wl.n) / median, median, kEpochs);
  std::fflush(stdout);
}

}  // namespace

int main() {
  try {
    const Workload workloads[] = {
        {"mnist", 60000, 1, 28, 28, data::Normalization::mnist(), {}},
        {"cifar", 50000, 3, 32, 32, data::Normalization::cifar10(),
         {.crop_padding = 4, .hflip = true}},
    };
    const bool gpu = cuda_device_count() > 0;
    std::printf("batch assembly, batch 128, shuffle on; cifar with crop 4 + hflip; %d CPU threads%s\n",
                cpu::num_threads(), gpu ? ", GPU 0" : ", no GPU");
    for (const Workload& wl : workloads) {
      const data::ImageDataset d = synthetic(wl);
      const Context cpu_ctx;
      cpu::set_num_threads(1);
      run(wl, d, cpu_ctx, "cpu 1 thread");
      cpu::set_num_threads(0);
      run(wl, d, cpu_ctx, "cpu " + std::to_string(cpu::num_threads()) + " threads");
      if (gpu) run(wl, d, Context(Device::cuda(0)), "cuda:0");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kestrel_bench_data: %s\n", e.what());
    return 1;
  }
}
