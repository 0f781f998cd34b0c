#include "balance.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <queue>

#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

struct Part {
  int64_t sum = 0;
  std::vector<int64_t> items;  // -1: a padding item (count not a multiple of parts)
};

// A partial solution: `parts` partitions, heaviest first.
struct State {
  std::vector<Part> parts;
  int64_t order = 0;  // tie-break: creation order
  int64_t spread() const { return parts.front().sum - parts.back().sum; }
  void sort() {
    std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.sum > b.sum; });
  }
};

struct LessSpread {
  bool operator()(const State& a, const State& b) const {
    if (a.spread() != b.spread()) return a.spread() < b.spread();
    return a.order > b.order;  // among equal spreads, the older first
  }
};

}  // namespace

std::vector<std::vector<int64_t>> balanced_partitions(const std::vector<int64_t>& lengths, int parts) {
  if (parts < 1) throw_bad_input("balanced_partitions: parts must be >= 1, got " + std::to_string(parts));
  const auto k = static_cast<size_t>(parts);
  const size_t count = lengths.size();
  // Padding items (length 0, id -1) sort first, so they all land in the
  // first run of k and no partition gets two of them.
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return lengths[static_cast<size_t>(a)] < lengths[static_cast<size_t>(b)]; });
  const size_t padding = (k - count % k) % k;
  order.insert(order.begin(), padding, -1);

  std::priority_queue<State, std::vector<State>, LessSpread> heap;
  int64_t created = 0;
  for (size_t begin = 0; begin < order.size(); begin += k) {
    State s;
    s.order = created++;
    for (size_t i = begin; i < begin + k; ++i) {
      const int64_t item = order[i];
      s.parts.push_back({item < 0 ? 0 : lengths[static_cast<size_t>(item)], {item}});
    }
    s.sort();
    heap.push(std::move(s));
  }
  State result;
  result.parts.resize(k);
  if (!heap.empty()) {
    while (heap.size() > 1) {
      State a = heap.top();
      heap.pop();
      State b = heap.top();
      heap.pop();
      // a's heaviest with b's lightest, and so on.
      State merged;
      merged.order = created++;
      for (size_t i = 0; i < k; ++i) {
        Part p = a.parts[i];
        const Part& q = b.parts[k - 1 - i];
        p.sum += q.sum;
        p.items.insert(p.items.end(), q.items.begin(), q.items.end());
        merged.parts.push_back(std::move(p));
      }
      merged.sort();
      heap.push(std::move(merged));
    }
    result = heap.top();
  }
  std::vector<std::vector<int64_t>> out;
  for (Part& p : result.parts) {
    std::vector<int64_t> items;
    for (int64_t i : p.items)
      if (i >= 0) items.push_back(i);
    std::sort(items.begin(), items.end());
    out.push_back(std::move(items));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const int64_t fa = a.empty() ? std::numeric_limits<int64_t>::max() : a.front();
    const int64_t fb = b.empty() ? std::numeric_limits<int64_t>::max() : b.front();
    return fa < fb;
  });
  return out;
}

std::vector<std::vector<int64_t>> contiguous_partitions(int64_t count, int parts) {
  if (parts < 1) throw_bad_input("contiguous_partitions: parts must be >= 1, got " + std::to_string(parts));
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(parts));
  for (int r = 0; r < parts; ++r)
    for (int64_t i = r * count / parts; i < (r + 1) * count / parts; ++i) out[static_cast<size_t>(r)].push_back(i);
  return out;
}

int64_t partition_spread(const std::vector<int64_t>& lengths, const std::vector<std::vector<int64_t>>& partitions) {
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (const auto& p : partitions) {
    int64_t sum = 0;
    for (int64_t i : p) sum += lengths.at(static_cast<size_t>(i));
    lo = std::min(lo, sum);
    hi = std::max(hi, sum);
  }
  return partitions.empty() ? 0 : hi - lo;
}

}  // namespace mstar::algorithms
