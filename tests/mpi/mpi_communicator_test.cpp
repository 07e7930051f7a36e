// MpiCommunicator under mpirun (ctest runs this binary on 3 ranks): ranks and sizes, sums of
// floats (one buffer, several in flight, empty, large), broadcasts from every root, host sums
// of doubles and integers, device doubles, byte broadcasts and barriers, all with exactly
// known answers (small integers, whose float sums are exact in any order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "engine/dist/launch_env.hpp"
#include "tests/mpi/mpi_world.hpp"

namespace kestrel::dist {
namespace {

using test::mpi_world;

TEST(MpiCommunicator, RanksAreTheLaunchersAndDistinct) {
  Communicator& comm = mpi_world();
  const LaunchEnvironment env = read_launch_environment();
  EXPECT_EQ(comm.backend(), "mpi");
  EXPECT_EQ(comm.rank(), env.rank);
  EXPECT_EQ(comm.size(), env.size);
  EXPECT_EQ(comm.local_rank(), env.local_rank);
  std::vector<int64_t> present(static_cast<size_t>(comm.size()), 0);
  present[static_cast<size_t>(comm.rank())] = 1;
  comm.all_reduce_sum_host(present);
  EXPECT_EQ(present, std::vector<int64_t>(static_cast<size_t>(comm.size()), 1));
}

// Rank r holds (r + 1) * (i % 7 + 1) at i; the sum over R ranks is R (R + 1) / 2 * (i % 7 + 1).
std::vector<float> rank_values(int rank, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 7 + 1));
  return v;
}

void expect_sums(const std::vector<float>& v, int ranks) {
  const int factor = ranks * (ranks + 1) / 2;
  size_t wrong = 0;
  for (size_t i = 0; i < v.size(); ++i)
    wrong += v[i] != static_cast<float>(factor * static_cast<int>(i % 7 + 1)) ? 1 : 0;
  EXPECT_EQ(wrong, 0u) << "of " << v.size() << " sums";
}

TEST(MpiCommunicator, SumsFloatBuffersOfAnySize) {
  Communicator& comm = mpi_world();
  for (size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{100003}}) {
    std::vector<float> v = rank_values(comm.rank(), n);
    comm.all_reduce_sum(v.data(), static_cast<int64_t>(n));
    expect_sums(v, comm.size());
  }
}

TEST(MpiCommunicator, SeveralBucketsInFlightFinishTogether) {
  Communicator& comm = mpi_world();
  std::vector<std::vector<float>> buckets{
      rank_values(comm.rank(), 1000), rank_values(comm.rank(), 3), rank_values(comm.rank(), 40000)};
  for (auto& b : buckets) {
    comm.start_all_reduce_sum(b.data(), static_cast<int64_t>(b.size()));
    comm.progress();
  }
  comm.finish_all_reduces();
  for (const auto& b : buckets) expect_sums(b, comm.size());
  comm.finish_all_reduces();  // nothing pending: returns at once
}

TEST(MpiCommunicator, BroadcastsFromEveryRoot) {
  Communicator& comm = mpi_world();
  for (int root = 0; root < comm.size(); ++root) {
    std::vector<float> v(777, static_cast<float>(comm.rank() * 10 + 1));
    comm.broadcast(v.data(), static_cast<int64_t>(v.size()), root);
    EXPECT_TRUE(std::all_of(v.begin(), v.end(),
                            [&](float x) { return x == static_cast<float>(root * 10 + 1); }))
        << "root " << root;
  }
}

TEST(MpiCommunicator, SumsHostDoublesAndIntegers) {
  Communicator& comm = mpi_world();
  std::vector<double> d{0.5 * comm.rank(), 1.0};
  comm.all_reduce_sum_host(d);
  const int r = comm.size();
  EXPECT_EQ(d[0], 0.5 * r * (r - 1) / 2);
  EXPECT_EQ(d[1], static_cast<double>(r));
  std::vector<int64_t> i{int64_t{1} << 40, comm.rank()};
  comm.all_reduce_sum_host(i);
  EXPECT_EQ(i[0], (int64_t{1} << 40) * r);
  EXPECT_EQ(i[1], r * (r - 1) / 2);
}

TEST(MpiCommunicator, SumsDeviceDoublesOfAStepTally) {
  // A training step's tally: loss x rows and hits, two doubles of (CPU) device memory.
  Communicator& comm = mpi_world();
  const int r = comm.size();
  std::vector<double> tally{0.25 * (comm.rank() + 1), static_cast<double>(comm.rank())};
  comm.all_reduce_sum_doubles(tally.data(), 2);
  EXPECT_EQ(tally[0], 0.25 * r * (r + 1) / 2);
  EXPECT_EQ(tally[1], static_cast<double>(r * (r - 1) / 2));
  comm.all_reduce_sum_doubles(nullptr, 0);  // nothing to sum is fine
}

TEST(MpiCommunicator, BroadcastsHostBytesAndMeetsAtBarriers) {
  Communicator& comm = mpi_world();
  char text[16] = {};
  if (comm.rank() == comm.size() - 1) std::strcpy(text, "from the last");
  comm.broadcast_host(std::as_writable_bytes(std::span<char>(text)), comm.size() - 1);
  EXPECT_STREQ(text, "from the last");
  for (int i = 0; i < 3; ++i) comm.barrier();
}

}  // namespace
}  // namespace kestrel::dist
