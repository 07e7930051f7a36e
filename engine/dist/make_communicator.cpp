#include "engine/dist/make_communicator.hpp"

#include "engine/dist/local_communicator.hpp"
#include "kernels/common/error.hpp"

#if defined(KESTREL_HAVE_MPI)
#include "engine/dist/mpi_communicator.hpp"
#endif
#if defined(KESTREL_HAVE_NCCL)
#include "engine/dist/cuda/nccl_communicator.hpp"
#endif

namespace kestrel::dist {

std::unique_ptr<Communicator> make_communicator(const LaunchEnvironment& env, Device device,
                                                const DistOptions& options) {
  KESTREL_CHECK(options.timeout_seconds > 0.0, "--dist-timeout must be positive, got {}",
                options.timeout_seconds);
  if (env.size == 1) return std::make_unique<LocalCommunicator>();
#if defined(KESTREL_HAVE_MPI)
  std::unique_ptr<Communicator> mpi = make_mpi_communicator(env, options.timeout_seconds);
  if (device.is_cpu()) return mpi;
#if defined(KESTREL_HAVE_NCCL)
  return make_nccl_communicator(*mpi, device.index, options.timeout_seconds);
#else
  KESTREL_FAIL(
      "{} ranks on GPUs need NCCL, and this kestrel was built without it (set "
      "NCCL_ROOT and rebuild), or train on the CPUs with --device cpu",
      env.size);
#endif
#else
  (void)device;
  KESTREL_FAIL(
      "the launcher ({}) started {} ranks, but this kestrel was built without MPI "
      "support: install libopenmpi-dev (scripts/install-deps.sh) and rebuild",
      env.launcher, env.size);
#endif
}

std::vector<std::unique_ptr<Communicator>> make_gpu_communicators(const std::vector<int>& gpus,
                                                                  const DistOptions& options) {
#if defined(KESTREL_HAVE_NCCL)
  return make_nccl_communicators(gpus, options.timeout_seconds);
#else
  (void)gpus;
  (void)options;
#if defined(KESTREL_HAVE_CUDA)
  constexpr const char* kBuilt = "with CUDA but without NCCL";
#else
  constexpr const char* kBuilt = "without CUDA";
#endif
  KESTREL_FAIL("--gpus needs a kestrel built with CUDA and NCCL; this one was built {}", kBuilt);
#endif
}

DistSupport dist_support() {
  DistSupport s;
#if defined(KESTREL_HAVE_MPI)
  s.mpi = true;
  s.mpi_library = mpi_library_version();
#endif
#if defined(KESTREL_HAVE_NCCL)
  s.nccl = true;
#endif
  return s;
}

}  // namespace kestrel::dist
