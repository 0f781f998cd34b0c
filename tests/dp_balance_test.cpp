// The length balancing of a rollout batch across ranks (balance_batch):
// equal-count partitions covering every item once, deterministic, and a
// spread of token sums no worse than the naive split where the naive split
// is at its worst (lengths sorted, the long ones all on the first rank).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "balance.h"
#include "mstar/error.h"

using mstar::algorithms::balanced_partitions;
using mstar::algorithms::contiguous_partitions;
using mstar::algorithms::partition_spread;

namespace {

void expect_cover(const std::vector<std::vector<int64_t>>& parts, size_t count) {
  std::vector<int64_t> all;
  for (const auto& p : parts) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), count);
  for (size_t i = 0; i < count; ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i));
}

}  // namespace

TEST(DataParallelBalance, EqualCountsCoverEveryItemOnceAndBeatTheNaiveSplitOnSortedLengths) {
  // 4 groups of 4 responses, the long groups first: the naive split puts
  // all the long ones on rank 0.
  std::vector<int64_t> lengths;
  for (int64_t g = 0; g < 4; ++g)
    for (int64_t k = 0; k < 4; ++k) lengths.push_back(400 - 100 * g + 7 * k);
  for (int parts : {2, 3, 4}) {
    const auto balanced = balanced_partitions(lengths, parts);
    ASSERT_EQ(balanced.size(), static_cast<size_t>(parts));
    expect_cover(balanced, lengths.size());
    size_t lo = lengths.size(), hi = 0;
    for (const auto& p : balanced) lo = std::min(lo, p.size()), hi = std::max(hi, p.size());
    EXPECT_LE(hi - lo, 1u) << parts << " parts";
    if (lengths.size() % static_cast<size_t>(parts) == 0) {
      EXPECT_EQ(hi, lo);
    }
    const int64_t naive = partition_spread(lengths, contiguous_partitions(static_cast<int64_t>(lengths.size()), parts));
    const int64_t ours = partition_spread(lengths, balanced);
    EXPECT_LE(ours, naive) << parts << " parts";
    if (parts == 2) {
      EXPECT_EQ(naive, 1600);  // 4x(400+300) + 2x42 vs 4x(200+100) + 2x42
      EXPECT_LT(ours, 100);
    }
  }
}

TEST(DataParallelBalance, DeterministicAndNeverWorseThanNaiveOnRandomBatches) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int parts = 2 + trial % 7;
    std::vector<int64_t> lengths(static_cast<size_t>(parts * (1 + trial % 9)));
    for (auto& l : lengths) l = static_cast<int64_t>(rng() % 2000);
    std::sort(lengths.rbegin(), lengths.rend());  // the naive split's worst order
    const auto a = balanced_partitions(lengths, parts), b = balanced_partitions(lengths, parts);
    EXPECT_EQ(a, b);
    expect_cover(a, lengths.size());
    for (const auto& p : a) EXPECT_EQ(p.size(), lengths.size() / static_cast<size_t>(parts));
    EXPECT_LE(partition_spread(lengths, a),
              partition_spread(lengths, contiguous_partitions(static_cast<int64_t>(lengths.size()), parts)));
  }
}

TEST(DataParallelBalance, OnePartIsTheBatchInOrderAndMorePartsThanItemsLeaveEmptyOnesLast) {
  const std::vector<int64_t> lengths = {5, 1, 9};
  EXPECT_EQ(balanced_partitions(lengths, 1), (std::vector<std::vector<int64_t>>{{0, 1, 2}}));
  const auto five = balanced_partitions(lengths, 5);
  ASSERT_EQ(five.size(), 5u);
  expect_cover(five, 3);
  EXPECT_TRUE(five[3].empty() && five[4].empty());
  EXPECT_THROW(balanced_partitions(lengths, 0), mstar::Error);
}
