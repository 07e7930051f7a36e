#include "apps/commands/devices.hpp"

#include <fmt/format.h>

#include "engine/dist/make_communicator.hpp"
#include "engine/runtime/gpu_info.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/parallel.hpp"

namespace kestrel::apps {

namespace {

double gib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

void print_devices() {
  const GpuEnvironment env = query_gpu_environment();
  fmt::print("cpu      {} threads, GEMM: {}\n", cpu::num_threads(), cpu::gemm_backend_name());
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
    fmt::print("cuda:{}   {}, {:.1f} GiB ({:.1f} GiB free), {} SMs, compute capability {}.{}, "
               "{} MHz, {}-bit memory bus\n",
               g.index, g.name, gib(g.total_memory), gib(g.free_memory), g.multiprocessors,
               g.compute_major, g.compute_minor, g.clock_khz / 1000, g.memory_bus_bits);
  }
}

}  // namespace

void register_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "devices", "List the CPU, the CUDA GPUs and the data-parallel transports kestrel can use");
  cmd->callback(print_devices);
}

}  // namespace kestrel::apps
