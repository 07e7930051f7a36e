#include "apps/commands/devices.hpp"

#include <fmt/format.h>

#include <memory>
#include <string>

#include "apps/commands/self_test.hpp"
#include "apps/exit_code.hpp"
#include "engine/dist/make_communicator.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "kernels/cpu/conv2d_onednn.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/parallel.hpp"
#include "kernels/cpu/simd.hpp"

namespace kestrel::apps {

namespace {

double gib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

void print_devices() {
  const GpuEnvironment env = query_gpu_environment();
  fmt::print("cpu      {} threads, element loops: {}, GEMM: {}, convolutions: {}\n",
             cpu::num_threads(), cpu::simd_level_name(cpu::simd_level()), cpu::gemm_backend_name(),
             cpu::onednn::built()
                 ? fmt::format("{} (--deterministic: im2col + GEMM)", cpu::onednn::describe())
                 : fmt::format("im2col + GEMM; oneDNN {}", cpu::onednn::describe()));
  const dist::DistSupport dist = dist::dist_support();
  fmt::print("dist     MPI: {} | NCCL: {}\n",
             dist.mpi ? dist.mpi_library + " (mpirun -np N kestrel train ...)" : "not built",
             dist.nccl ? env.nccl_version : "not built");
  if (!env.built_with_cuda) {
    fmt::print("cuda     not available: {}\n", env.no_gpu_reason);
    return;
  }
  fmt::print("versions driver {}, runtime {}, cuBLAS {}, cuDNN {}, NCCL {}\n", env.driver_version,
             env.runtime_version, env.cublas_version, env.cudnn_version, env.nccl_version);
  if (env.gpus.empty()) {
    fmt::print("cuda     no GPU found ({}); kestrel runs on the CPU\n", env.no_gpu_reason);
    return;
  }
  for (const GpuInfo& g : env.gpus) {
    fmt::print(
        "cuda:{}   {}, {:.1f} GiB ({:.1f} GiB free), {} SMs, compute capability {}.{}, "
        "{} MHz, {}-bit memory bus\n",
        g.index, g.name, gib(g.total_memory), gib(g.free_memory), g.multiprocessors,
        g.compute_major, g.compute_minor, g.clock_khz / 1000, g.memory_bus_bits);
  }
}

struct DevicesFlags {
  bool self_test = false;
  std::string device;
};

// --self-test: every GPU (or the one --device names) against the CPU; exit 0 when every op
// passed, 1 when one did not, kExitNoGpu when there is no GPU to test. --device cpu runs the
// CPU against itself: a check of the self-test's own machinery, which must pass.
void self_test(const DevicesFlags& f) {
  const selftest::SelfTestOptions options = self_test_options_from_environment();
  std::vector<Device> devices;
  if (!f.device.empty()) {
    try {
      devices.push_back(Device::parse(f.device));
    } catch (const Error& e) {
      throw CLI::ValidationError("--device", e.message());
    }
    if (devices.back().is_cuda() && devices.back().index >= cuda_device_count()) devices.clear();
  } else {
    for (int i = 0; i < cuda_device_count(); ++i) devices.push_back(Device::cuda(i));
  }
  if (devices.empty()) {
    const GpuEnvironment env = query_gpu_environment();
    const std::string what = f.device.empty() ? "no GPU to test" : f.device + " is not present";
    const std::string why = !env.built_with_cuda ? "this kestrel was built without CUDA"
                            : env.no_gpu_reason.empty()
                                ? fmt::format("{} GPU(s) found", env.gpus.size())
                                : env.no_gpu_reason;
    fmt::print(stderr, "kestrel: self-test: {} ({}); exit code {}\n", what, why, kExitNoGpu);
    exit_code() = kExitNoGpu;
    return;
  }
  print_devices();
  bool passed = true;
  for (const Device& d : devices) passed = run_device_self_test(d, options, true, stdout).passed() && passed;
  if (!passed) exit_code() = 1;
}

}  // namespace

void register_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "devices", "List the CPU, the CUDA GPUs and the data-parallel transports kestrel can use");
  auto f = std::make_shared<DevicesFlags>();
  cmd->add_flag("--self-test", f->self_test,
                "Run every op kestrel uses on each GPU and compare with the CPU: one line per op; "
                "exit 0 all passed, 1 one failed, 3 no GPU");
  cmd->add_option("--device", f->device,
                  "With --self-test: only this device (cuda:N; cpu checks the self-test itself)");
  cmd->callback([f] {
    if (!f->self_test) {
      if (!f->device.empty()) throw CLI::ValidationError("--device", "only with --self-test");
      print_devices();
      return;
    }
    self_test(*f);
  });
}

}  // namespace kestrel::apps
