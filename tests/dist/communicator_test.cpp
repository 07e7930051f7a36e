// The single-process communicator, the deadline poll every collective waits with, the fault
// plan read from the environment, and the communicator factory's choices and refusals.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "engine/dist/fault_injection.hpp"
#include "engine/dist/local_communicator.hpp"
#include "engine/dist/make_communicator.hpp"
#include "engine/dist/poll.hpp"
#include "tests/support/errors.hpp"

namespace kestrel::dist {
namespace {

TEST(LocalCommunicator, IsOneRankAndEveryCollectiveIsTheIdentity) {
  LocalCommunicator comm;
  EXPECT_EQ(comm.backend(), "local");
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  EXPECT_EQ(comm.local_rank(), 0);
  std::vector<float> x{1.5f, -2.25f, 3.0f};
  const std::vector<float> before = x;
  comm.all_reduce_sum(x.data(), 3);
  EXPECT_EQ(x, before);
  comm.broadcast(x.data(), 3, 0);
  EXPECT_EQ(x, before);
  std::vector<double> d{0.1, 0.2};
  comm.all_reduce_sum_host(d);
  EXPECT_EQ(d, (std::vector<double>{0.1, 0.2}));
  std::vector<int64_t> i{7, -3};
  comm.all_reduce_sum_host(i);
  EXPECT_EQ(i, (std::vector<int64_t>{7, -3}));
  comm.barrier();
  Tensor t = Tensor::from_vector(Shape{3}, before);
  all_reduce_average(comm, Context(), t);
  EXPECT_EQ(t.to_vector(), before);
}

TEST(LocalCommunicator, RefusesOtherRootsAndAbortsByThrowing) {
  LocalCommunicator comm;
  float x = 1.0f;
  test::expect_error([&] { comm.broadcast(&x, 1, 1); }, "root 1 is not a rank");
  test::expect_error([&] { comm.abort("the reason"); }, "the reason");
}

TEST(PollUntil, ReturnsAsSoonAsDone) {
  int calls = 0;
  EXPECT_TRUE(poll_until([&] { return ++calls == 100; }, 10.0));
  EXPECT_EQ(calls, 100);
}

TEST(PollUntil, GivesUpAtTheDeadline) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(poll_until([] { return false; }, 0.2));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(seconds, 0.2);
  EXPECT_LT(seconds, 2.0);  // the deadline plus at most a pause, with room for a busy machine
}

FaultPlan plan_of(const std::map<std::string, std::string>& vars) {
  return read_fault_plan([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(FaultPlan, IsOffUnlessAsked) {
  EXPECT_EQ(plan_of({}).kind, FaultKind::None);
  EXPECT_EQ(plan_of({{"KESTREL_FAULT", ""}}).kind, FaultKind::None);
  inject_fault(plan_of({}), 0, 0);  // nothing happens
}

TEST(FaultPlan, ReadsKindRankAndStep) {
  const FaultPlan p = plan_of(
      {{"KESTREL_FAULT", "hang"}, {"KESTREL_FAULT_RANK", "2"}, {"KESTREL_FAULT_STEP", "17"}});
  EXPECT_EQ(p.kind, FaultKind::Hang);
  EXPECT_EQ(p.rank, 2);
  EXPECT_EQ(p.step, 17);
  EXPECT_EQ(
      plan_of({{"KESTREL_FAULT", "kill"}, {"KESTREL_FAULT_RANK", "0"}, {"KESTREL_FAULT_STEP", "0"}})
          .kind,
      FaultKind::Kill);
}

TEST(FaultPlan, MalformedPlansAreErrors) {
  test::expect_error(
      [] {
        plan_of({{"KESTREL_FAULT", "explode"}});
      },
      "KESTREL_FAULT='explode': expected kill, hang or error");
  test::expect_error(
      [] {
        plan_of({{"KESTREL_FAULT", "kill"}, {"KESTREL_FAULT_STEP", "3"}});
      },
      "KESTREL_FAULT is set but KESTREL_FAULT_RANK is not");
  test::expect_error(
      [] {
        plan_of(
            {{"KESTREL_FAULT", "kill"}, {"KESTREL_FAULT_RANK", "x"}, {"KESTREL_FAULT_STEP", "3"}});
      },
      "KESTREL_FAULT_RANK='x' is not a whole number");
}

TEST(FaultPlan, AnErrorFaultThrowsOnlyAtItsRankAndStep) {
  const FaultPlan p = plan_of(
      {{"KESTREL_FAULT", "error"}, {"KESTREL_FAULT_RANK", "1"}, {"KESTREL_FAULT_STEP", "4"}});
  inject_fault(p, 0, 4);
  inject_fault(p, 1, 3);
  test::expect_error([&] { inject_fault(p, 1, 4); }, "injected error at step 4");
}

TEST(MakeCommunicator, OneRankIsLocalWhateverTheLauncher) {
  LaunchEnvironment env;
  env.launcher = "openmpi";  // mpirun -np 1: no MPI needed
  const auto comm = make_communicator(env, Device::cpu(), {});
  EXPECT_EQ(comm->backend(), "local");
  EXPECT_EQ(comm->size(), 1);
}

TEST(MakeCommunicator, RefusesANonPositiveTimeout) {
  test::expect_error([] { make_communicator({}, Device::cpu(), {.timeout_seconds = 0.0}); },
                     "--dist-timeout must be positive");
}

#if !defined(KESTREL_HAVE_MPI)
TEST(MakeCommunicator, SeveralRanksWithoutMpiSayWhatIsMissing) {
  LaunchEnvironment env;
  env.launcher = "openmpi";
  env.size = 2;
  test::expect_error([&] { make_communicator(env, Device::cpu(), {}); },
                     "this kestrel was built without MPI support");
}
#endif

#if !defined(KESTREL_HAVE_NCCL)
TEST(MakeCommunicator, GpusWithoutNcclSayWhatIsMissing) {
  test::expect_error(
      [] {
        make_gpu_communicators({0, 1}, {});
      },
      "--gpus needs a kestrel built with CUDA and NCCL");
}
#endif

TEST(MakeCommunicator, ReportsWhatThisBuildSupports) {
  const DistSupport s = dist_support();
#if defined(KESTREL_HAVE_MPI)
  EXPECT_TRUE(s.mpi);
  EXPECT_FALSE(s.mpi_library.empty());
#else
  EXPECT_FALSE(s.mpi);
#endif
#if defined(KESTREL_HAVE_NCCL)
  EXPECT_TRUE(s.nccl);
#else
  EXPECT_FALSE(s.nccl);
#endif
}

}  // namespace
}  // namespace kestrel::dist
