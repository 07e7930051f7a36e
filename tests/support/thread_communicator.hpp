#pragma once
// A communicator whose ranks are threads of one process, for testing data-parallel code
// without MPI: R threads, each with its own ThreadCommunicator of one shared ThreadGroup, run
// the same collectives and meet at barriers. Sums are taken in rank order, so every rank gets
// the same bits (as MPI and NCCL give). Host memory only (CPU contexts).
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/dist/communicator.hpp"

namespace kestrel::test {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size)
      : size_(size), slots_(static_cast<size_t>(size), nullptr), sync_(size) {}
  int size() const { return size_; }

  // Every rank passes its buffer of n values; each then holds the sum over the ranks.
  template <class T>
  void all_reduce_sum(int rank, T* data, size_t n) {
    slots_[static_cast<size_t>(rank)] = data;
    sync_.arrive_and_wait();  // every buffer is in place
    std::vector<T> sum(n);
    for (size_t i = 0; i < n; ++i) {
      T s = static_cast<const T*>(slots_[0])[i];
      for (int r = 1; r < size_; ++r) s += static_cast<const T*>(slots_[static_cast<size_t>(r)])[i];
      sum[i] = s;
    }
    sync_.arrive_and_wait();  // every rank has read every buffer
    std::copy(sum.begin(), sum.end(), data);
  }

  void broadcast(int rank, void* data, size_t bytes, int root) {
    slots_[static_cast<size_t>(rank)] = data;
    sync_.arrive_and_wait();
    std::vector<std::byte> copy(bytes);
    std::memcpy(copy.data(), slots_[static_cast<size_t>(root)], bytes);
    sync_.arrive_and_wait();
    std::memcpy(data, copy.data(), bytes);
  }

  void barrier() { sync_.arrive_and_wait(); }

 private:
  int size_;
  std::vector<const void*> slots_;
  std::barrier<> sync_;
};

class ThreadCommunicator final : public dist::Communicator {
 public:
  ThreadCommunicator(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}

  std::string_view backend() const override { return "threads"; }
  int rank() const override { return rank_; }
  int size() const override { return group_.size(); }
  int local_rank() const override { return rank_; }

  // Collectives complete at once; the buckets still arrive in each rank's order.
  void start_all_reduce_sum(float* data, int64_t n) override {
    group_.all_reduce_sum(rank_, data, static_cast<size_t>(n));
    ++started_;
  }
  void finish_all_reduces() override { started_ = 0; }
  void broadcast(float* data, int64_t n, int root) override {
    group_.broadcast(rank_, data, static_cast<size_t>(n) * sizeof(float), root);
  }
  void all_reduce_sum_doubles(double* data, int64_t n) override {
    group_.all_reduce_sum(rank_, data, static_cast<size_t>(n));
  }
  void all_reduce_sum_host(std::span<double> values) override {
    group_.all_reduce_sum(rank_, values.data(), values.size());
  }
  void all_reduce_sum_host(std::span<int64_t> values) override {
    group_.all_reduce_sum(rank_, values.data(), values.size());
  }
  void broadcast_host(std::span<std::byte> bytes, int root) override {
    group_.broadcast(rank_, bytes.data(), bytes.size(), root);
  }
  void barrier() override { group_.barrier(); }
  [[noreturn]] void abort(const std::string& reason) override { throw std::runtime_error(reason); }

 private:
  ThreadGroup& group_;
  int rank_;
  int64_t started_ = 0;
};

}  // namespace kestrel::test
