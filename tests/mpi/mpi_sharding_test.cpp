// Sharding across real ranks: each rank builds its own training loader for its shard, and the
// ranks' visits, summed over MPI, cover every epoch exactly once with the same number of steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/data/synthetic.hpp"
#include "tests/mpi/mpi_world.hpp"

namespace kestrel::data {
namespace {

TEST(MpiSharding, TheRanksCoverEachEpochExactlyOnce) {
  dist::Communicator& comm = test::mpi_world();
  const int64_t n = 601;
  const ImageDataset d = make_synthetic(n, 1, 2, 2, 10, /*seed=*/21);
  LoaderOptions o = LoaderOptions::for_training(16, Normalization::none(), {}, /*seed=*/4);
  o.shard_rank = comm.rank();
  o.shard_count = comm.size();
  BatchLoader loader(d, Context(), o);
  for (int64_t epoch : {0, 1, 2}) {
    std::vector<int64_t> visits(static_cast<size_t>(n) + 1, 0);
    loader.start_epoch(epoch);
    int64_t steps = 0;
    for (Batch b; loader.next(b); ++steps)
      if (b.size > 0)
        for (int32_t i : b.indices.to_int_vector()) ++visits[static_cast<size_t>(i)];
    visits.back() = steps;  // every rank takes the same number of steps
    comm.all_reduce_sum_host(visits);
    EXPECT_EQ(visits.back(), steps * comm.size()) << "epoch " << epoch;
    visits.pop_back();
    EXPECT_EQ(std::count(visits.begin(), visits.end(), 1), n)
        << "epoch " << epoch << ": a sample was missed or visited twice";
  }
}

}  // namespace
}  // namespace kestrel::data
