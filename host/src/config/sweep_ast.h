// The parsed form of a `sweep:` block, shared by the sweep_*.cpp files. Not
// for use outside host/src/config.
//
// One representation serves every operation: sweep_parse.cpp builds it,
// sweep_ast.cpp lists its keys and renders it back to JSON, sweep_expand.cpp
// turns it into assignments, sweep_narrow.cpp edits it for --set-sweep,
// sweep_keys.cpp checks its keys against the plugins. The constructs that
// list assignments (a grid axis, a zip group, points) are all a Table, so
// keys, narrowing and pruning see three kinds of factor, not one kind per
// construct, and walk the blocks with the one for_each_block below.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/internal.h"

namespace mstar::config::sweeps {

using detail::Diagnostics;

// Above this many assignments in one product, expansion stops: a typo in a
// grid must not exhaust memory.
inline constexpr size_t kMaxAssignments = 1000000;

// One appearance of a key in the sweep, for key validation and locations.
struct KeyUse {
  std::string key;
  SourceLoc loc;
  std::vector<Json> values;
};

// A factor whose assignments are listed: a grid axis (one column), a zip
// group (columns of equal length) or points (rows that may set different
// keys). The construct is kept for rendering and messages only.
struct Table {
  enum class Construct { Grid, Zip, Points };  // in product order, before random and union
  Construct construct = Construct::Grid;
  std::vector<std::string> columns;  // grid, zip: the keys (sorted); points: none
  std::vector<Json> rows;            // the assignments {KEY: VALUE, ...}
};

enum class Dist { Uniform, LogUniform, Int, Choice };

struct RandomParam {
  std::string key;
  Dist dist = Dist::Uniform;
  double lo = 0, hi = 0;
  int64_t ilo = 0, ihi = 0;
  std::vector<Json> choices;
  Json spec;  // as written, {DIST: ARG}
};

struct Random {
  int64_t n = 0;
  uint64_t seed = 0;
  std::vector<RandomParam> params;  // sorted by key: the draw order
  Json src;                         // the block as written (n, seed; params re-rendered)
};

struct Block;
struct Union {
  std::vector<Block> blocks;
};

// One factor of a block's cartesian product.
using Factor = std::variant<Table, Random, Union>;

struct Rule {
  Json cond = Json::object();
  Json set = Json::object();
  std::vector<std::string> unset;
  Json src;  // as written
};

struct Block {
  // Product order: grid axes (sorted by key), zip groups, points, random, union.
  std::vector<Factor> factors;
  bool zip_list = false;  // `zip:` written as a list of groups
  std::optional<std::vector<Json>> excludes;
  std::optional<std::vector<Rule>> whens;
};

struct Sweep {
  Block root;
  std::vector<int64_t> seeds;  // empty: the experiment's seed
  Json seeds_src;              // as written; null without `seeds:`
  std::vector<KeyUse> uses;
};

// --- parse (sweep_parse.cpp) ------------------------------------------------

// Parses `exp.sweep`, checking that keys name nodes; problems go to `diag`
// at their location in the experiment's files.
Sweep parse(const Experiment& exp, Diagnostics& diag);
// Parses a sweep that was already checked: keys are taken as written.
Sweep parse_checked(const Json& sweep);

// --- traversal, keys, rendering (sweep_ast.cpp) -------------------------------

// Calls fn(block, pointer) for `b` and every block below it, children first
// (so a callback may drop emptied union entries); `pointer` is the block's
// JSON pointer in the sweep as it is now.
template <class B, class Fn>
void for_each_block(B& b, const std::string& ptr, Fn&& fn) {
  for (auto& f : b.factors)
    if (auto* u = std::get_if<Union>(&f))
      for (size_t i = 0; i < u->blocks.size(); ++i)
        for_each_block(u->blocks[i], detail::pointer_join(ptr, "union") + "/" + std::to_string(i), fn);
  fn(b, ptr);
}

// The keys one factor varies (a union's: those of its blocks); with
// `with_sets`, also the keys that `when` rules below it set.
std::set<std::string> factor_keys(const Factor& f, bool with_sets);
std::set<std::string> block_keys(const Block& b, bool with_sets);
// "grid", "zip", "points", "random", "union": the construct, for messages.
const char* factor_name(const Factor& f);
// Keys set by two factors of one product would make their values depend on
// the order of application: each such key is a problem at `loc`.
void check_disjoint(const Block& b, const SourceLoc& loc, Diagnostics& diag);
// The JSON a sweep parses from: for a checked sweep, the same JSON.
Json render(const Sweep& s);

// --- expansion (sweep_expand.cpp) ---------------------------------------------

// The block's assignments: product, exclude, when, dedupe (docs/sweeps.md).
std::vector<Json> expand_block(const Block& b, const Experiment& exp);

}  // namespace mstar::config::sweeps
