#include "selection.h"

#include <algorithm>
#include <cmath>

namespace mstar::world::detail {

int Ledger::cost(const Keys& keys, int sign) const {
  int total = 0;
  for (const auto& [key, weight] : keys) {
    auto it = tally_.find(key);
    const int d = it == tally_.end() ? 0 : it->second;
    total += weight * ((d + sign) * (d + sign) - d * d);  // squared: large imbalances weigh most
  }
  return total;
}

void Ledger::add(const Keys& keys, int sign) {
  for (const auto& [key, weight] : keys) tally_[key] += sign;
}

Keys balance_keys(const Candidate& c) {
  Keys keys{{std::string("level:") + level_name(c.claim.level()), 4},
            {std::string("kind:") + claim_kind_name(c.claim.kind), 2}};
  std::vector<std::string> words;
  size_t start = 0;
  const std::string& t = c.text;
  while (start < t.size()) {
    size_t end = t.find(' ', start);
    if (end == std::string::npos) end = t.size();
    std::string w = t.substr(start, end - start);
    while (!w.empty() && (w.back() == '.' || w.back() == ',')) w.pop_back();
    if (!w.empty()) words.push_back(w);
    start = end + 1;
  }
  // Words and word pairs ("shows one" must not be mostly true while "is one" is mostly false).
  for (size_t i = 0; i < words.size(); ++i) {
    keys.emplace_back("w:" + words[i], 1);
    if (i + 1 < words.size()) keys.emplace_back("b:" + words[i] + "_" + words[i + 1], 1);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// Kinds with many candidates (colours: every glyph, several wrong colours)
// would otherwise crowd out rare ones (counts); a kind above its fair share
// of its level costs extra, but never so much that balance of T and F
// suffers.
int KindUsage::penalty(ClaimKind kind) const {
  const Level level = level_of(kind);
  int total = 0, kinds = 0;
  for (const auto& [k, n] : used_)
    if (level_of(k) == level) total += n, ++kinds;
  if (total < 20 || kinds == 0) return 0;
  auto it = used_.find(kind);
  const double share = it == used_.end() ? 0.0 : static_cast<double>(it->second) / total;
  return static_cast<int>(std::lround(std::max(0.0, share - 1.0 / kinds) * 12.0));
}

int KindUsage::count(ClaimKind kind) const {
  auto it = used_.find(kind);
  return it == used_.end() ? 0 : it->second;
}

std::vector<Candidate> StatementSelector::select(std::vector<Candidate> pool, int k, const std::vector<Level>& levels) {
  // Level of each slot: k/|levels| each, the remainder to random levels.
  std::vector<Level> slots;
  std::vector<Level> order = levels;
  rng_.shuffle(order);
  for (int i = 0; i < k; ++i) slots.push_back(order[static_cast<size_t>(i) % order.size()]);
  rng_.shuffle(slots);

  std::vector<Keys> keys;
  for (const Candidate& c : pool) keys.push_back(balance_keys(c));
  std::vector<bool> used(pool.size(), false);
  std::vector<Candidate> chosen;
  std::map<ClaimKind, int> kinds_here;
  for (Level level : slots) {
    const long pick = policy_ == SelectionPolicy::Words ? pick_by_ledger(pool, keys, used, level, kinds_here)
                                                        : pick_by_kind(pool, keys, used, level, kinds_here);
    if (pick < 0) continue;
    const auto p = static_cast<size_t>(pick);
    used[p] = true;
    ++kinds_here[pool[p].claim.kind];
    usage_.add(pool[p].claim.kind);
    ledger_.add(keys[p], pool[p].truth ? 1 : -1);
    chosen.push_back(pool[p]);
  }
  return chosen;
}

long StatementSelector::pick_by_ledger(const std::vector<Candidate>& pool, const std::vector<Keys>& keys,
                                       const std::vector<bool>& used, Level level,
                                       const std::map<ClaimKind, int>& here) {
  int best = 1 << 30;
  std::vector<size_t> ties;
  for (size_t i = 0; i < pool.size(); ++i) {
    if (used[i] || pool[i].claim.level() != level) continue;
    const ClaimKind kind = pool[i].claim.kind;
    auto h = here.find(kind);
    const int cost = ledger_.cost(keys[i], pool[i].truth ? 1 : -1) + 3 * (h == here.end() ? 0 : h->second) +
                     usage_.penalty(kind);
    if (cost < best) {
      best = cost;
      ties.clear();
    }
    if (cost == best) ties.push_back(i);
  }
  if (ties.empty()) return -1;
  return static_cast<long>(ties[rng_.below(ties.size())]);
}

long StatementSelector::pick_by_kind(const std::vector<Candidate>& pool, const std::vector<Keys>& keys,
                                     const std::vector<bool>& used, Level level,
                                     const std::map<ClaimKind, int>& here) {
  // The ledger's cost per key: on a balanced ledger every statement costs
  // 1 whatever its length, and words that lean one way still cost more. A
  // kind 10 points of share above its fair share (among the kinds this
  // image offers) costs as much as one more statement, so rare kinds catch
  // up unless asking them would tip their words (a kind that can only be
  // true in this world stays rare). A second statement of the same kind for
  // one image costs half a statement.
  std::map<ClaimKind, int> asked;
  int total = 0;
  for (size_t i = 0; i < pool.size(); ++i)
    if (pool[i].claim.level() == level) asked.emplace(pool[i].claim.kind, usage_.count(pool[i].claim.kind));
  for (const auto& [kind, n] : asked) total += n;
  double best = 1e300;
  std::vector<size_t> ties;
  for (size_t i = 0; i < pool.size(); ++i) {
    if (used[i] || pool[i].claim.level() != level) continue;
    const ClaimKind kind = pool[i].claim.kind;
    auto h = here.find(kind);
    const double share = total > 0 ? static_cast<double>(asked[kind]) / total : 0.0;
    const double excess = std::max(0.0, share - 1.0 / static_cast<double>(asked.size()));
    const double cost = static_cast<double>(ledger_.cost(keys[i], pool[i].truth ? 1 : -1)) /
                            static_cast<double>(std::max<size_t>(1, keys[i].size())) +
                        10.0 * excess + 0.5 * (h == here.end() ? 0 : h->second);
    if (cost < best - 1e-9) {
      best = cost;
      ties.clear();
    }
    if (cost < best + 1e-9) ties.push_back(i);
  }
  if (ties.empty()) return -1;
  return static_cast<long>(ties[rng_.below(ties.size())]);
}

}  // namespace mstar::world::detail
