#include "engine/dist/mpi_communicator.hpp"

// Only MPI's C interface: OpenMPI's deprecated C++ bindings are not wanted here.
#define OMPI_SKIP_MPICXX 1
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/dist/poll.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/common/error.hpp"

namespace kestrel::dist {

namespace {

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(code, text, &length);
  KESTREL_FAIL("MPI: {} failed: {}", call, std::string(text, static_cast<size_t>(length)));
}

// MPI for the life of the process: initialised by the first communicator, finalised when the
// process exits normally (static destruction, after every communicator is gone).
class MpiRuntime {
 public:
  static void ensure_initialized() { static MpiRuntime runtime; }

  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (initialized_here_ && !finalized) MPI_Finalize();
  }
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

 private:
  MpiRuntime() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    initialized_here_ = true;
  }
  bool initialized_here_ = false;
};

// MPI counts are ints: longer buffers go in pieces of at most this many elements.
constexpr int64_t kMaxPiece = int64_t{1} << 30;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const LaunchEnvironment& env, double timeout_seconds)
      : timeout_seconds_(timeout_seconds), local_rank_(env.local_rank) {
    MpiRuntime::ensure_initialized();
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // Errors come back as codes (and become kestrel::Error) instead of aborting inside MPI.
    check_mpi(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    KESTREL_CHECK(
        rank_ == env.rank && size_ == env.size,
        "the launch environment ({}) says rank {} of {} but MPI sees rank {} of {}: start the "
        "ranks with mpirun or srun (MPI cannot join processes started by hand)",
        env.launcher, env.rank, env.size, rank_, size_);
  }

  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  std::string_view backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void start_all_reduce_sum(float* data, int64_t n) override {
    NvtxRange range("all_reduce_sum (start)");
    KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum: {} values at {}", n,
                  static_cast<void*>(data));
    for (int64_t begin = 0; begin < n; begin += kMaxPiece) {
      const int count = static_cast<int>(std::min(kMaxPiece, n - begin));
      MPI_Request request = MPI_REQUEST_NULL;
      check_mpi(
          MPI_Iallreduce(MPI_IN_PLACE, data + begin, count, MPI_FLOAT, MPI_SUM, comm_, &request),
          "MPI_Iallreduce");
      pending_.push_back(request);
    }
    pending_values_ += n;
  }

  void progress() override {
    if (pending_.empty()) return;
    int done = 0;
    check_mpi(
        MPI_Testall(static_cast<int>(pending_.size()), pending_.data(), &done, MPI_STATUSES_IGNORE),
        "MPI_Testall");
  }

  void finish_all_reduces() override {
    NvtxRange range("all_reduce_sum (wait)");
    wait(pending_, fmt::format("all_reduce_sum of {} floats", pending_values_));
    pending_.clear();
    pending_values_ = 0;
  }

  void broadcast(float* data, int64_t n, int root) override {
    NvtxRange range("broadcast");
    check_root(root);
    std::vector<MPI_Request> requests;
    for (int64_t begin = 0; begin < n; begin += kMaxPiece) {
      const int count = static_cast<int>(std::min(kMaxPiece, n - begin));
      requests.push_back(MPI_REQUEST_NULL);
      check_mpi(MPI_Ibcast(data + begin, count, MPI_FLOAT, root, comm_, &requests.back()),
                "MPI_Ibcast");
    }
    wait(requests, fmt::format("broadcast of {} floats from rank {}", n, root));
  }

  // CPU ranks: device memory is host memory.
  void all_reduce_sum_doubles(double* data, int64_t n) override {
    NvtxRange range("all_reduce_sum (doubles)");
    KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum_doubles: {} values at {}",
                  n, static_cast<void*>(data));
    reduce_host(data, static_cast<size_t>(n), MPI_DOUBLE, "doubles");
  }

  void all_reduce_sum_host(std::span<double> values) override {
    NvtxRange range("all_reduce_sum (host)");
    reduce_host(values.data(), values.size(), MPI_DOUBLE, "doubles");
  }

  void all_reduce_sum_host(std::span<int64_t> values) override {
    NvtxRange range("all_reduce_sum (host)");
    reduce_host(values.data(), values.size(), MPI_INT64_T, "integers");
  }

  void broadcast_host(std::span<std::byte> bytes, int root) override {
    NvtxRange range("broadcast (host)");
    check_root(root);
    KESTREL_CHECK(static_cast<int64_t>(bytes.size()) <= kMaxPiece,
                  "broadcast_host: {} bytes is more than one MPI message takes", bytes.size());
    std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
    check_mpi(MPI_Ibcast(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, root, comm_,
                         requests.data()),
              "MPI_Ibcast");
    wait(requests, fmt::format("broadcast of {} bytes from rank {}", bytes.size(), root));
  }

  void barrier() override {
    NvtxRange range("barrier");
    std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
    check_mpi(MPI_Ibarrier(comm_, requests.data()), "MPI_Ibarrier");
    wait(requests, "barrier");
  }

  [[noreturn]] void abort(const std::string& reason) override {
    std::fprintf(stderr, "kestrel: %s: %s; aborting the job\n", describe_rank(*this).c_str(),
                 reason.c_str());
    std::fflush(stderr);
    mpi_abort_job();
  }

 private:
  void check_root(int root) const {
    KESTREL_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of {}", root, size_);
  }

  void reduce_host(void* values, size_t count, MPI_Datatype type, const char* what) {
    KESTREL_CHECK(static_cast<int64_t>(count) <= kMaxPiece,
                  "all_reduce_sum_host: {} values is more than one MPI message takes", count);
    std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, values, static_cast<int>(count), type, MPI_SUM, comm_,
                             requests.data()),
              "MPI_Iallreduce");
    wait(requests, fmt::format("all_reduce_sum of {} {}", count, what));
  }

  // Waits for every request until the deadline; past it, aborts the job.
  void wait(std::vector<MPI_Request>& requests, const std::string& what) {
    if (requests.empty()) return;
    const bool done = poll_until(
        [&] {
          int all = 0;
          check_mpi(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &all,
                                MPI_STATUSES_IGNORE),
                    "MPI_Testall");
          return all != 0;
        },
        timeout_seconds_);
    if (!done)
      abort(
          fmt::format("{} did not complete within {} s (--dist-timeout): another rank died, "
                      "hangs or is that far behind",
                      what, timeout_seconds_));
  }

  double timeout_seconds_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::vector<MPI_Request> pending_;
  int64_t pending_values_ = 0;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchEnvironment& env,
                                                    double timeout_seconds) {
  KESTREL_CHECK(timeout_seconds > 0.0, "--dist-timeout must be positive, got {}", timeout_seconds);
  return std::make_unique<MpiCommunicator>(env, timeout_seconds);
}

bool mpi_is_running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized != 0 && finalized == 0;
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string version(text, static_cast<size_t>(std::max(length, 0)));
  version = version.substr(0, version.find_first_of("\n,"));
  return version;
}

void mpi_abort_job() {
  if (mpi_is_running()) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

}  // namespace kestrel::dist
