// main() of kestrel_mpi_tests: MPI up (through kestrel's own MpiCommunicator, with a 60 s
// deadline so that a test that desynchronises the ranks aborts instead of hanging), every
// test on every rank, and one verdict for the job: it passes only if every rank passed.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>

#include "engine/dist/launch_env.hpp"
#include "engine/dist/mpi_communicator.hpp"
#include "tests/mpi/mpi_world.hpp"

namespace kestrel::test {
namespace {
dist::Communicator* world = nullptr;
}  // namespace

dist::Communicator& mpi_world() { return *world; }

class FailurePrinter final : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                   r.file_name() != nullptr ? r.file_name() : "?", r.line_number(), r.message());
  }

 private:
  int rank_;
};

}  // namespace kestrel::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = kestrel::dist::make_mpi_communicator(kestrel::dist::read_launch_environment(), 60.0);
  kestrel::test::world = comm.get();
  // Rank 0 prints the usual report; the others print only their failures.
  if (comm->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new kestrel::test::FailurePrinter(comm->rank()));
  }
  const int status = RUN_ALL_TESTS();
  std::array<int64_t, 1> failed{status != 0 ? 1 : 0};
  comm->all_reduce_sum_host(failed);
  comm.reset();
  return failed[0] == 0 ? 0 : 1;
}
