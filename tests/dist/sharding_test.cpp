// Data-parallel sharding in the BatchLoader: R ranks with batch B take, step by step, exactly
// the rows of one loader with batch B x R (rank r holds global rows r, r + R, ...), every epoch
// is covered exactly once across the ranks, every rank takes the same number of steps (with
// short or empty batches at the end), and evaluation shards cover the test split once.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "engine/data/loader.hpp"
#include "engine/data/sampler.hpp"
#include "engine/data/synthetic.hpp"
#include "tests/support/errors.hpp"

namespace kestrel::data {
namespace {

struct Steps {
  std::vector<std::vector<int32_t>> indices;  // per step
  std::vector<int64_t> global_rows;           // per step
  int64_t batches = 0;
};

Steps run_epoch(const ImageDataset& d, int64_t batch, int rank, int ranks, bool drop_last,
                int64_t epoch) {
  const Context ctx;
  LoaderOptions o =
      LoaderOptions::for_training(batch, Normalization::none(), {}, /*seed=*/7, drop_last);
  o.shard_rank = rank;
  o.shard_count = ranks;
  BatchLoader loader(d, ctx, o);
  Steps s;
  s.batches = loader.batches_per_epoch();
  loader.start_epoch(epoch);
  for (Batch b; loader.next(b);) {
    EXPECT_EQ(b.index, static_cast<int64_t>(s.indices.size()));
    EXPECT_LE(b.size, batch);
    if (b.size == 0) {
      EXPECT_FALSE(b.images.defined());
      s.indices.emplace_back();
    } else {
      EXPECT_EQ(b.images.dim(0), b.size);
      s.indices.push_back(b.indices.to_int_vector());
    }
    s.global_rows.push_back(loader.global_batch_rows(b.index));
  }
  EXPECT_EQ(static_cast<int64_t>(s.indices.size()), s.batches);
  return s;
}

TEST(DataParallelSharding, RanksTogetherTakeTheOneProcessGlobalBatch) {
  for (int64_t n : {1, 7, 96, 577, 601}) {
    const ImageDataset d = make_synthetic(n, 1, 2, 2, 10, /*seed=*/3);
    for (int ranks : {1, 2, 3, 4}) {
      for (int64_t batch : {1, 5, 32}) {
        for (bool drop_last : {false, true}) {
          SCOPED_TRACE(testing::Message() << "n " << n << " ranks " << ranks << " batch " << batch
                                          << " drop_last " << drop_last);
          const Steps one = run_epoch(d, batch * ranks, 0, 1, drop_last, 2);
          std::vector<Steps> shards;
          for (int r = 0; r < ranks; ++r)
            shards.push_back(run_epoch(d, batch, r, ranks, drop_last, 2));
          for (int r = 0; r < ranks; ++r) {
            ASSERT_EQ(shards[static_cast<size_t>(r)].batches, one.batches) << "rank " << r;
            EXPECT_EQ(shards[static_cast<size_t>(r)].global_rows, one.global_rows);
          }
          for (size_t step = 0; step < one.indices.size(); ++step) {
            // Interleave: rank r's j-th row is global row r + ranks * j.
            const std::vector<int32_t>& global = one.indices[step];
            std::vector<int32_t> combined(global.size(), -1);
            size_t rows = 0;
            for (int r = 0; r < ranks; ++r) {
              const auto& mine = shards[static_cast<size_t>(r)].indices[step];
              rows += mine.size();
              for (size_t j = 0; j < mine.size(); ++j) {
                const size_t g = static_cast<size_t>(r) + static_cast<size_t>(ranks) * j;
                ASSERT_LT(g, combined.size()) << "rank " << r << " step " << step;
                combined[g] = mine[j];
              }
            }
            EXPECT_EQ(rows, global.size()) << "step " << step;
            EXPECT_EQ(combined, global) << "step " << step;
            EXPECT_EQ(static_cast<int64_t>(global.size()), one.global_rows[step]);
          }
        }
      }
    }
  }
}

TEST(DataParallelSharding, EveryEpochIsCoveredExactlyOnceAcrossRanks) {
  const int64_t n = 601;
  const ImageDataset d = make_synthetic(n, 1, 2, 2, 10, /*seed=*/5);
  for (int ranks : {2, 3, 5}) {
    for (int64_t epoch : {0, 1, 4}) {
      std::vector<int> seen(static_cast<size_t>(n), 0);
      for (int r = 0; r < ranks; ++r)
        for (const auto& step : run_epoch(d, 16, r, ranks, false, epoch).indices)
          for (int32_t i : step) ++seen[static_cast<size_t>(i)];
      EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), n)
          << ranks << " ranks, epoch " << epoch << ": some sample missed or repeated";
    }
  }
}

TEST(DataParallelSharding, AShortEpochEndGivesEmptyBatchesToTheLastRanks) {
  // 577 = 6 x 96 + 1: the last global batch holds one row, rank 0's; ranks 1 and 2 still take
  // the step (with no rows) so that their collectives match.
  const ImageDataset d = make_synthetic(577, 1, 2, 2, 10, /*seed=*/9);
  for (int r = 0; r < 3; ++r) {
    const Steps s = run_epoch(d, 32, r, 3, false, 0);
    ASSERT_EQ(s.batches, 7);
    EXPECT_EQ(s.indices.back().size(), r == 0 ? 1u : 0u) << "rank " << r;
    EXPECT_EQ(s.global_rows.back(), 1);
  }
}

TEST(DataParallelSharding, EvaluationShardsCoverTheSplitOnceInOrder) {
  const int64_t n = 1001;
  const ImageDataset d = make_synthetic(n, 1, 2, 2, 10, /*seed=*/11);
  const Context ctx;
  std::vector<int> seen(static_cast<size_t>(n), 0);
  for (int r = 0; r < 3; ++r) {
    LoaderOptions o = LoaderOptions::for_evaluation(64, Normalization::none());
    o.shard_rank = r;
    o.shard_count = 3;
    BatchLoader loader(d, ctx, o);
    EXPECT_EQ(loader.batches_per_epoch(), (shard_size(n, r, 3) + 63) / 64);
    loader.start_epoch(0);
    int32_t last = -1;
    for (Batch b; loader.next(b);) {
      ASSERT_GT(b.size, 0);
      for (int32_t i : b.indices.to_int_vector()) {
        EXPECT_GT(i, last) << "rank " << r << " visits the split out of order";
        last = i;
        ++seen[static_cast<size_t>(i)];
      }
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), n);
}

TEST(DataParallelSharding, RejectsAShardThatDoesNotExist) {
  const ImageDataset d = make_synthetic(10, 1, 2, 2, 10, /*seed=*/1);
  const Context ctx;
  LoaderOptions o = LoaderOptions::for_training(4, Normalization::none());
  o.shard_rank = 3;
  o.shard_count = 3;
  test::expect_error([&] { BatchLoader loader(d, ctx, o); }, "shard 3 of 3 does not exist");
}

}  // namespace
}  // namespace kestrel::data
