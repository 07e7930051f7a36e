#include "engine/dist/cuda/nccl_communicator.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "engine/dist/abort_job.hpp"
#include "engine/dist/poll.hpp"
#include "engine/runtime/cuda/device_context.hpp"
#include "engine/runtime/cuda/pinned_buffer.hpp"
#include "engine/runtime/nvtx.hpp"
#include "kernels/cuda/check.hpp"

namespace kestrel::dist {

namespace {

void check_nccl(ncclResult_t result, const char* call) {
  if (result == ncclSuccess) return;
  const char* last = ncclGetLastError(nullptr);
  KESTREL_FAIL("NCCL: {} failed: {} ({}){}{}", call, ncclGetErrorString(result),
               static_cast<int>(result), last != nullptr && *last != '\0' ? ": " : "",
               last != nullptr ? last : "");
}

#define KESTREL_NCCL_CHECK(call) check_nccl((call), #call)

using Clock = std::chrono::steady_clock;

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int rank, int size, int local_rank, int device,
                   double timeout_seconds)
      : comm_(comm),
        rank_(rank),
        size_(size),
        local_rank_(local_rank),
        device_(device),
        timeout_seconds_(timeout_seconds),
        context_(cuda::device_context(device)) {
    context_.make_current();
    KESTREL_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    KESTREL_CUDA_CHECK(cudaEventCreateWithFlags(&finished_, cudaEventDisableTiming));
    watchdog_ = std::thread([this] { watch(); });
  }

  ~NcclCommunicator() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    // Outstanding collectives finish (or the deadline ends the job) before NCCL lets go.
    cudaSetDevice(device_);
    wait_stream(context_.comm_stream(), "the last collectives");
    ncclCommFinalize(comm_);
    ncclCommDestroy(comm_);
    for (cudaEvent_t e : free_events_) cudaEventDestroy(e);
    for (const Watched& w : watched_) cudaEventDestroy(w.done);
    cudaEventDestroy(ready_);
    cudaEventDestroy(finished_);
  }

  std::string_view backend() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  void start_all_reduce_sum(float* data, int64_t n) override {
    NvtxRange range("all_reduce_sum");
    KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum: {} values at {}", n,
                  static_cast<void*>(data));
    context_.make_current();
    comm_waits_for_compute();
    KESTREL_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(n), ncclFloat, ncclSum, comm_,
                                     context_.comm_stream()));
    watch_comm_stream(fmt::format("all_reduce_sum of {} floats", n));
    ++started_;
  }

  void finish_all_reduces() override {
    if (started_ == 0) return;
    NvtxRange range("all_reduce_sum (compute waits)");
    context_.make_current();
    compute_waits_for_comm();
    started_ = 0;
  }

  void broadcast(float* data, int64_t n, int root) override {
    NvtxRange range("broadcast");
    check_root(root);
    context_.make_current();
    comm_waits_for_compute();
    KESTREL_NCCL_CHECK(ncclBroadcast(data, data, static_cast<size_t>(n), ncclFloat, root, comm_,
                                     context_.comm_stream()));
    watch_comm_stream(fmt::format("broadcast of {} floats from rank {}", n, root));
    compute_waits_for_comm();
  }

  void all_reduce_sum_doubles(double* data, int64_t n) override {
    NvtxRange range("all_reduce_sum (doubles)");
    KESTREL_CHECK(n >= 0 && (data != nullptr || n == 0), "all_reduce_sum_doubles: {} values at {}",
                  n, static_cast<void*>(data));
    context_.make_current();
    comm_waits_for_compute();
    KESTREL_NCCL_CHECK(ncclAllReduce(data, data, static_cast<size_t>(n), ncclDouble, ncclSum, comm_,
                                     context_.comm_stream()));
    watch_comm_stream(fmt::format("all_reduce_sum of {} doubles", n));
    compute_waits_for_comm();
  }

  void all_reduce_sum_host(std::span<double> values) override {
    NvtxRange range("all_reduce_sum (host)");
    host_collective(values.data(), values.size_bytes(), [&](void* device_values) {
      return ncclAllReduce(device_values, device_values, values.size(), ncclDouble, ncclSum, comm_,
                           context_.comm_stream());
    });
  }

  void all_reduce_sum_host(std::span<int64_t> values) override {
    NvtxRange range("all_reduce_sum (host)");
    host_collective(values.data(), values.size_bytes(), [&](void* device_values) {
      return ncclAllReduce(device_values, device_values, values.size(), ncclInt64, ncclSum, comm_,
                           context_.comm_stream());
    });
  }

  void broadcast_host(std::span<std::byte> bytes, int root) override {
    NvtxRange range("broadcast (host)");
    check_root(root);
    host_collective(bytes.data(), bytes.size(), [&](void* device_bytes) {
      return ncclBroadcast(device_bytes, device_bytes, bytes.size(), ncclUint8, root, comm_,
                           context_.comm_stream());
    });
  }

  // NCCL has no barrier: a one-element sum every rank must join serves as one.
  void barrier() override {
    NvtxRange range("barrier");
    int64_t one = 1;
    all_reduce_sum_host(std::span<int64_t>(&one, 1));
  }

  // The main thread and the watchdog may both get here: the communicator is aborted once.
  [[noreturn]] void abort(const std::string& reason) override {
    std::call_once(aborted_, [&] {
      std::fprintf(stderr, "kestrel: %s (cuda:%d): %s; aborting the job\n",
                   describe_rank(*this).c_str(), device_, reason.c_str());
      std::fflush(stderr);
      ncclCommAbort(comm_);
    });
    abort_job();
  }

 private:
  // A collective whose completion the watchdog follows.
  struct Watched {
    cudaEvent_t done;
    Clock::time_point started;
    std::string what;
  };

  void check_root(int root) const {
    KESTREL_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of {}", root, size_);
  }

  cudaEvent_t take_event() {
    std::lock_guard lock(mutex_);
    if (!free_events_.empty()) {
      cudaEvent_t e = free_events_.back();
      free_events_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    KESTREL_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }

  // The communication stream starts the next collective after the compute stream's queued work
  // (the gradients it reduces).
  // One event serves every start: a wait captures the record it was issued after.
  void comm_waits_for_compute() {
    KESTREL_CUDA_CHECK(cudaEventRecord(ready_, context_.compute_stream()));
    KESTREL_CUDA_CHECK(cudaStreamWaitEvent(context_.comm_stream(), ready_, 0));
  }

  void compute_waits_for_comm() {
    KESTREL_CUDA_CHECK(cudaEventRecord(finished_, context_.comm_stream()));
    KESTREL_CUDA_CHECK(cudaStreamWaitEvent(context_.compute_stream(), finished_, 0));
  }

  // Hands the collective just queued on the communication stream to the watchdog. Not one
  // queued into a CUDA Graph capture: an event recorded there can never be queried.
  void watch_comm_stream(std::string what) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    KESTREL_CUDA_CHECK(cudaStreamIsCapturing(context_.comm_stream(), &capture));
    if (capture != cudaStreamCaptureStatusNone) return;
    cudaEvent_t done = take_event();
    KESTREL_CUDA_CHECK(cudaEventRecord(done, context_.comm_stream()));
    {
      std::lock_guard lock(mutex_);
      watched_.push_back({done, Clock::now(), std::move(what)});
    }
    wake_.notify_all();
  }

  // Host values: copied to the device, reduced on the communication stream, copied back, and
  // waited for against the deadline.
  template <class Collective>
  void host_collective(void* values, size_t bytes, const Collective& collective) {
    if (bytes == 0) return;
    context_.make_current();
    if (!scratch_.defined() || scratch_.nbytes() < bytes)
      scratch_ =
          Tensor::empty(Shape{static_cast<int64_t>(bytes)}, DType::U8, Device::cuda(device_));
    // Through pinned memory: a copy into pageable memory would block this thread until the
    // collective ends, out of reach of the deadline.
    if (staging_.size() < bytes) staging_ = cuda::PinnedBuffer(bytes);
    std::memcpy(staging_.data(), values, bytes);
    cudaStream_t stream = context_.comm_stream();
    // The scratch block came from the pool on the compute stream: start after its queued work.
    comm_waits_for_compute();
    staging_.copy_to_device(scratch_.raw_data(), bytes, stream);
    KESTREL_NCCL_CHECK(collective(scratch_.raw_data()));
    staging_.copy_from_device(scratch_.raw_data(), bytes, stream);
    wait_stream(stream, fmt::format("a collective of {} bytes of host values", bytes));
    std::memcpy(values, staging_.data(), bytes);
  }

  // Waits for `stream` with the deadline, watching for NCCL's asynchronous errors meanwhile.
  void wait_stream(cudaStream_t stream, const std::string& what) {
    const bool done = poll_until(
        [&] {
          check_async_error();
          const cudaError_t e = cudaStreamQuery(stream);
          if (e == cudaErrorNotReady) return false;
          KESTREL_CUDA_CHECK(e);
          return true;
        },
        timeout_seconds_);
    if (!done)
      abort(
          fmt::format("{} did not complete within {} s (--dist-timeout): another rank died, "
                      "hangs or is that far behind",
                      what, timeout_seconds_));
  }

  void check_async_error() {
    ncclResult_t state = ncclSuccess;
    const ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
    if (r != ncclSuccess || (state != ncclSuccess && state != ncclInProgress))
      abort(fmt::format("NCCL reported an asynchronous error: {}",
                        ncclGetErrorString(r != ncclSuccess ? r : state)));
  }

  // The watchdog: every 100 ms, NCCL's error state and the oldest unfinished collective.
  void watch() {
    cudaSetDevice(device_);
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      while (!watched_.empty() && cudaEventQuery(watched_.front().done) == cudaSuccess) {
        free_events_.push_back(watched_.front().done);
        watched_.pop_front();
      }
      const bool late =
          !watched_.empty() &&
          std::chrono::duration<double>(Clock::now() - watched_.front().started).count() >
              timeout_seconds_;
      const std::string what = late ? watched_.front().what : std::string();
      lock.unlock();
      check_async_error();
      if (late)
        abort(
            fmt::format("{} did not complete within {} s (--dist-timeout): another rank died, "
                        "hangs or is that far behind",
                        what, timeout_seconds_));
      lock.lock();
    }
  }

  ncclComm_t comm_;
  int rank_, size_, local_rank_, device_;
  double timeout_seconds_;
  cuda::DeviceContext& context_;
  cudaEvent_t ready_ = nullptr;     // the compute stream's work, for the next collective
  cudaEvent_t finished_ = nullptr;  // the communication stream's last collective, for compute
  int64_t started_ = 0;
  Tensor scratch_;              // host values on their way through NCCL
  cuda::PinnedBuffer staging_;  // and on their way to and from the device
  std::once_flag aborted_;

  std::mutex mutex_;  // guards what follows; shared with the watchdog
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<cudaEvent_t> free_events_;
  std::deque<Watched> watched_;
  std::thread watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int device,
                                                     double timeout_seconds) {
  KESTREL_CHECK(timeout_seconds > 0.0, "--dist-timeout must be positive, got {}", timeout_seconds);
  cuda::device_context(device).make_current();
  ncclUniqueId id{};
  if (bootstrap.rank() == 0) KESTREL_NCCL_CHECK(ncclGetUniqueId(&id));
  bootstrap.broadcast_host(std::as_writable_bytes(std::span<ncclUniqueId>(&id, 1)), 0);
  ncclComm_t comm = nullptr;
  {
    NvtxRange range("ncclCommInitRank");
    KESTREL_NCCL_CHECK(ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()));
  }
  return std::make_unique<NcclCommunicator>(comm, bootstrap.rank(), bootstrap.size(),
                                            bootstrap.local_rank(), device, timeout_seconds);
}

std::vector<std::unique_ptr<Communicator>> make_nccl_communicators(const std::vector<int>& gpus,
                                                                   double timeout_seconds) {
  KESTREL_CHECK(!gpus.empty(), "make_nccl_communicators: no GPUs given");
  KESTREL_CHECK(timeout_seconds > 0.0, "--dist-timeout must be positive, got {}", timeout_seconds);
  for (int g : gpus) cuda::device_context(g);  // throws for a GPU that is not there
  std::vector<ncclComm_t> comms(gpus.size(), nullptr);
  {
    NvtxRange range("ncclCommInitAll");
    KESTREL_NCCL_CHECK(ncclCommInitAll(comms.data(), static_cast<int>(gpus.size()), gpus.data()));
  }
  std::vector<std::unique_ptr<Communicator>> out;
  const int n = static_cast<int>(gpus.size());
  for (int i = 0; i < n; ++i)
    out.push_back(std::make_unique<NcclCommunicator>(
        comms[static_cast<size_t>(i)], i, n, i, gpus[static_cast<size_t>(i)], timeout_seconds));
  return out;
}

}  // namespace kestrel::dist
