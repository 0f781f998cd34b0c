// Length balancing of a batch across data-parallel ranks (the reference's
// _balance_batch: get_seqlen_balanced_partitions with equal_size, a
// Karmarkar-Karp largest-differencing partition). Free of torch, so that a
// test checks it on its own.
#pragma once

#include <cstdint>
#include <vector>

namespace mstar::algorithms {

// Splits items 0..lengths.size()-1 into `parts` partitions whose counts
// differ by at most one (equal when parts divides the count) and whose
// sums of lengths are close: items are sorted, each run of `parts`
// consecutive items starts as one item per partition, and the two partial
// solutions with the largest spread (max - min sum) are merged repeatedly,
// the heaviest partition of one joined with the lightest of the other.
// Deterministic: ties are broken by position. Each partition lists its
// items in increasing order; partitions are ordered by their first item
// (empty ones, when parts > count, last). Throws BadInput for parts < 1.
std::vector<std::vector<int64_t>> balanced_partitions(const std::vector<int64_t>& lengths, int parts);

// The naive split: consecutive runs of count/parts items (rank r gets
// r*count/parts .. (r+1)*count/parts), what ranks take without balancing.
std::vector<std::vector<int64_t>> contiguous_partitions(int64_t count, int parts);

// Largest minus smallest sum of lengths over the partitions.
int64_t partition_spread(const std::vector<int64_t>& lengths, const std::vector<std::vector<int64_t>>& partitions);

}  // namespace mstar::algorithms
