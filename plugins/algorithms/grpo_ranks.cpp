// GRPO across data-parallel ranks: per-group seeds, the gathered batch, and
// each rank's share of every mini-batch (balance_batch). With one rank the
// gather is the identity and a rank's share is the whole mini-batch.
#include <algorithm>

#include "balance.h"
#include "grpo.h"
#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t group_seed(uint64_t seed, int64_t step, int64_t group) {
  return mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(group));
}

void Sampled::append(const Sampled& other, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    rows.push_back(other.rows[i]);
    groups.push_back(other.groups[i]);
    responses.push_back(other.responses[i]);
    texts.push_back(other.texts[i]);
    rewards.push_back(other.rewards[i]);
    scores.push_back(other.scores[i]);
  }
}

void gather_sampled(GrpoState& s, const Sampled& mine, size_t first, Sampled& all) {
  const size_t count = all.rows.size();
  all.responses.assign(count, {});
  all.texts.assign(count, {});
  all.rewards.assign(count, {});
  all.scores.assign(count, 0.0);
  // Lengths and scores first (each slot filled by one rank: the sums are
  // exact), then every response's tokens at offsets the lengths give.
  std::vector<double> head(2 * count, 0.0);
  for (size_t i = 0; i < mine.rows.size(); ++i) {
    head[first + i] = static_cast<double>(mine.responses[i].size());
    head[count + first + i] = mine.scores[i];
  }
  head = s.ranks.sum(head);
  std::vector<size_t> offset(count + 1, 0);
  for (size_t i = 0; i < count; ++i) offset[i + 1] = offset[i] + static_cast<size_t>(head[i]);
  std::vector<double> tokens(offset[count], 0.0);  // token ids are far below 2^53: exact as doubles
  for (size_t i = 0; i < mine.rows.size(); ++i)
    std::copy(mine.responses[i].begin(), mine.responses[i].end(), tokens.begin() + static_cast<std::ptrdiff_t>(offset[first + i]));
  tokens = s.ranks.sum(tokens);
  all.prompt_tokens = all.response_tokens = 0;
  for (size_t i = 0; i < count; ++i) {
    const bool local = i >= first && i < first + mine.rows.size();
    auto& resp = all.responses[i];
    for (size_t j = offset[i]; j < offset[i + 1]; ++j) resp.push_back(static_cast<int64_t>(tokens[j]));
    all.scores[i] = head[count + i];
    if (local) {
      all.texts[i] = mine.texts[i - first];
      all.rewards[i] = mine.rewards[i - first];
    } else {
      all.texts[i] = s.model.decode_response(resp);
      all.rewards[i].overall = all.scores[i];
    }
    all.prompt_tokens += static_cast<int64_t>(s.examples[static_cast<size_t>(all.rows[i])].prompt.size());
    all.response_tokens += static_cast<int64_t>(resp.size());
  }
}

std::vector<MiniBatch> plan_minibatches(const GrpoState& s, const Rollout& r) {
  const GrpoConfig& c = s.config;
  const int world = s.ranks.size();
  const int64_t n = r.size(), mini = std::max<int64_t>(1, c.global_batch_size * c.n);
  std::vector<MiniBatch> out;
  for (int64_t begin = 0; begin < n; begin += mini) {
    MiniBatch mb;
    mb.begin = begin;
    mb.end = std::min(n, begin + mini);
    std::vector<std::vector<int64_t>> shares;
    if (c.balance_batch && world > 1) {
      std::vector<int64_t> lengths;
      for (int64_t i = mb.begin; i < mb.end; ++i)
        lengths.push_back(static_cast<int64_t>(s.examples[static_cast<size_t>(r.rows[static_cast<size_t>(i)])].prompt.size() +
                                               r.responses[static_cast<size_t>(i)].size()));
      shares = balanced_partitions(lengths, world);
    } else {
      shares = contiguous_partitions(mb.end - mb.begin, world);
    }
    for (int64_t i : shares[static_cast<size_t>(s.ranks.rank())]) mb.rows.push_back(mb.begin + i);
    out.push_back(std::move(mb));
  }
  return out;
}

}  // namespace mstar::algorithms
