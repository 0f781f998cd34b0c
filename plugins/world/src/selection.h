// Which of an image's candidate T/F statements are asked (internal to the
// generator). Both policies keep every word about as often true as false,
// so that the text alone does not give the answer away.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mstar/world/rng.h"
#include "mstar/world/statements.h"

namespace mstar::world::detail {

using Keys = std::vector<std::pair<std::string, int>>;

// Word-level herding. Each T statement adds +1 and each F statement -1 to
// the tally of every word and word pair it contains (and of its level and
// kind); among the candidates of a slot the one that most reduces the sum of
// squared tallies is taken. Every word then occurs about equally often in
// true and in false statements, so a bag-of-words model of the text alone
// stays at chance.
class Ledger {
 public:
  int cost(const Keys& keys, int sign) const;
  void add(const Keys& keys, int sign);

 private:
  std::unordered_map<std::string, int> tally_;
};

Keys balance_keys(const Candidate& c);

// How often each kind of statement was asked, per level.
class KindUsage {
 public:
  int penalty(ClaimKind kind) const;
  int count(ClaimKind kind) const;
  void add(ClaimKind kind) { ++used_[kind]; }

 private:
  std::map<ClaimKind, int> used_;
};

enum class SelectionPolicy {
  // The candidate that best balances the ledger, with a mild penalty for
  // kinds above their share. Cheap statements win: a balanced ledger charges
  // +1 for every word and word pair, so long statements ("there is a crown
  // in the image") are picked far less often than short ones ("the crown is
  // red"). The TFQ files use it.
  Words,
  // The ledger's cost per key (a balanced ledger charges every statement 1,
  // whatever its length) plus a penalty for kinds above their share: kinds
  // come about equally often unless their words cannot stay balanced. The
  // literal pretraining corpus uses it by default.
  Kinds,
};

// Selection state over a sequence of images (one file).
class StatementSelector {
 public:
  StatementSelector(SelectionPolicy policy, uint64_t seed) : policy_(policy), rng_(seed) {}
  // Up to k statements of `pool`, k / |levels| of each level and the rest at
  // random levels; fewer when the pool runs out.
  std::vector<Candidate> select(std::vector<Candidate> pool, int k, const std::vector<Level>& levels);

 private:
  // Index of the pick for a slot of `level` among unused candidates, or -1.
  long pick_by_ledger(const std::vector<Candidate>& pool, const std::vector<Keys>& keys,
                      const std::vector<bool>& used, Level level, const std::map<ClaimKind, int>& here);
  long pick_by_kind(const std::vector<Candidate>& pool, const std::vector<Keys>& keys, const std::vector<bool>& used,
                    Level level, const std::map<ClaimKind, int>& here);

  SelectionPolicy policy_;
  Rng rng_;
  Ledger ledger_;
  KindUsage usage_;
};

}  // namespace mstar::world::detail
