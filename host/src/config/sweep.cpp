// Sweeps: parsing the `sweep:` block, expanding it into trials, narrowing
// it from the command line, validating its keys, applying a trial.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "config/internal.h"
#include "mstar/error.h"

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::list_of;
using detail::pointer_join;

namespace {

// Above this many assignments in one product, expansion stops: a typo in a
// grid must not exhaust memory.
constexpr size_t kMaxAssignments = 1000000;

const std::vector<std::string> kBlockKeys = {"grid", "zip", "points", "random", "union", "exclude", "when", "seeds"};
const std::vector<std::string> kRandomKeys = {"n", "seed", "params"};
const std::vector<std::string> kDistKeys = {"uniform", "loguniform", "int", "choice"};
const std::vector<std::string> kRuleKeys = {"if", "set", "unset"};

// One appearance of a key in the sweep, for key validation and locations.
struct KeyUse {
  std::string key;
  SourceLoc loc;
  std::vector<Json> values;
};

struct Axis {
  std::string key;
  std::vector<Json> values;
};

enum class Dist { Uniform, LogUniform, Int, Choice };

struct RandomParam {
  std::string key;
  Dist dist = Dist::Uniform;
  double lo = 0, hi = 0;
  int64_t ilo = 0, ihi = 0;
  std::vector<Json> choices;
};

struct RandomBlock {
  int64_t n = 0;
  uint64_t seed = 0;
  std::vector<RandomParam> params;  // sorted by key: the draw order
};

struct Rule {
  Json cond = Json::object();
  Json set = Json::object();
  std::vector<std::string> unset;
};

struct Block {
  std::vector<Axis> grid;
  std::vector<std::vector<Axis>> zips;
  std::optional<std::vector<Json>> points;
  std::optional<RandomBlock> random;
  std::optional<std::vector<Block>> unions;
  std::vector<Json> excludes;
  std::vector<Rule> whens;
};

struct Sweep {
  Block root;
  std::vector<int64_t> seeds;  // empty: the experiment's seed
  std::vector<KeyUse> uses;
};

std::set<std::string> keys_of_block(const Block& b);

class Parser {
 public:
  Parser(const Experiment& exp, Diagnostics& diag) : exp_(exp), diag_(diag) {}

  Sweep parse() {
    Sweep s;
    if (exp_.sweep.is_null()) return s;
    s.root = block(exp_.sweep, "/sweep", true, &s.seeds);
    s.uses = std::move(uses_);
    return s;
  }

 private:
  SourceLoc at(const std::string& ptr) const { return exp_.loc_of(ptr); }

  // A key "node.param[.sub]" or "node.plugin" naming an existing node.
  bool check_key(const std::string& key, const std::string& ptr, const std::vector<Json>& values) {
    const SourceLoc loc = at(ptr);
    const auto names = exp_.node_names();
    if (key == "seed") {
      diag_.add(loc, "sweep key 'seed': the trial seed is not swept as a factor; list the seeds under 'seeds: [...]'");
      return false;
    }
    const size_t dot = key.find('.');
    const std::string node = key.substr(0, dot);
    if (dot == std::string::npos) {
      if (exp_.find_node(node))
        diag_.add(loc, "sweep key '" + key + "': expected NODE.PARAM, e.g. " + key + ".lr");
      else
        diag_.add(loc, "sweep key '" + key + "': expected NODE.PARAM (e.g. train.lr); unknown node '" + node + "'" +
                           hint(node, names));
      return false;
    }
    if (!exp_.find_node(node)) {
      diag_.add(loc, "sweep key '" + key + "': unknown node '" + node + "'" + hint(node, names) +
                         "; nodes: " + list_of(names));
      return false;
    }
    const auto segs = detail::split(key.substr(dot + 1), '.');
    if (std::any_of(segs.begin(), segs.end(), [](const std::string& s) { return s.empty(); })) {
      diag_.add(loc, "sweep key '" + key + "': empty path segment");
      return false;
    }
    if (segs[0] == "plugin" && segs.size() > 1) {
      diag_.add(loc, "sweep key '" + key + "': '" + node + ".plugin' is the node's plugin id, it has no fields");
      return false;
    }
    if (segs[0] == "plugin" && segs.size() == 1)
      for (const auto& v : values)
        if (!v.is_null() && (!v.is_string() || v.get<std::string>().find('/') == std::string::npos))
          diag_.add(loc, "sweep key '" + key + "': expected plugin ids KIND/NAME, got " + detail::show(v));
    uses_.push_back({key, loc, values});
    return true;
  }

  std::optional<std::vector<Json>> value_list(const Json& j, const std::string& ptr, const std::string& what) {
    if (!j.is_array() || j.empty()) {
      diag_.add(at(ptr), what + ": expected a non-empty list of values, got " + detail::show(j));
      return std::nullopt;
    }
    return std::vector<Json>(j.begin(), j.end());
  }

  // A map of key -> value (points, exclude, if, set).
  std::optional<Json> assignment(const Json& j, const std::string& ptr, const std::string& what, bool allow_empty) {
    if (!j.is_object() || (!allow_empty && j.empty())) {
      diag_.add(at(ptr), what + ": expected a map {NODE.PARAM: VALUE, ...}, got " + detail::show(j));
      return std::nullopt;
    }
    bool ok = true;
    for (auto& [k, v] : j.items()) ok &= check_key(k, pointer_join(ptr, k), {v});
    if (!ok) return std::nullopt;
    return j;
  }

  std::vector<Axis> axes(const Json& j, const std::string& ptr, const std::string& what) {
    std::vector<Axis> out;
    if (!j.is_object() || j.empty()) {
      diag_.add(at(ptr), what + ": expected a map {NODE.PARAM: [VALUES...]}, got " + detail::show(j));
      return out;
    }
    for (auto& [k, v] : j.items()) {
      const std::string p = pointer_join(ptr, k);
      auto vals = value_list(v, p, what + "." + k);
      if (!vals) continue;
      if (!check_key(k, p, *vals)) continue;
      out.push_back({k, std::move(*vals)});
    }
    return out;
  }

  std::vector<Axis> zip_group(const Json& j, const std::string& ptr) {
    std::vector<Axis> group = axes(j, ptr, "zip");
    for (size_t i = 1; i < group.size(); ++i)
      if (group[i].values.size() != group[0].values.size())
        diag_.add(at(ptr), "zip: '" + group[0].key + "' has " + std::to_string(group[0].values.size()) +
                               " values but '" + group[i].key + "' has " + std::to_string(group[i].values.size()) +
                               " (zipped keys vary together and need lists of equal length)");
    return group;
  }

  std::optional<RandomBlock> random(const Json& j, const std::string& ptr) {
    if (!j.is_object()) {
      diag_.add(at(ptr), "random: expected a map {n: N, seed: S, params: {...}}");
      return std::nullopt;
    }
    bool ok = true;
    for (auto& [k, v] : j.items())
      if (std::find(kRandomKeys.begin(), kRandomKeys.end(), k) == kRandomKeys.end()) {
        diag_.add(at(pointer_join(ptr, k)), "random: unknown key '" + k + "'" + hint(k, kRandomKeys) +
                                                "; expected: " + list_of(kRandomKeys));
        ok = false;
      }
    RandomBlock r;
    if (!j.contains("n") || !j["n"].is_number_integer() || j["n"].get<int64_t>() < 1 ||
        j["n"].get<int64_t>() > static_cast<int64_t>(kMaxAssignments)) {
      diag_.add(at(ptr + (j.contains("n") ? "/n" : "")), "random.n: expected the number of samples, an int >= 1");
      ok = false;
    } else {
      r.n = j["n"].get<int64_t>();
    }
    if (j.contains("seed")) {
      if (!j["seed"].is_number_integer()) {
        diag_.add(at(ptr + "/seed"), "random.seed: expected an int");
        ok = false;
      } else {
        r.seed = static_cast<uint64_t>(j["seed"].get<int64_t>());
      }
    }
    const std::string pp = ptr + "/params";
    if (!j.contains("params") || !j["params"].is_object() || j["params"].empty()) {
      diag_.add(at(j.contains("params") ? pp : ptr),
                "random.params: expected a map {NODE.PARAM: {uniform|loguniform|int|choice: ...}}");
      return std::nullopt;
    }
    for (auto& [key, spec] : j["params"].items()) {
      const std::string p = pointer_join(pp, key);
      const std::string what = "random.params." + key;
      if (!spec.is_object() || spec.size() != 1) {
        diag_.add(at(p), what + ": expected one of {uniform: [LO, HI]}, {loguniform: [LO, HI]}, {int: [LO, HI]}, "
                                "{choice: [VALUES...]}");
        ok = false;
        continue;
      }
      const std::string dist = spec.begin().key();
      const Json& arg = spec.begin().value();
      RandomParam rp;
      rp.key = key;
      const std::string ap = pointer_join(p, dist);
      if (dist == "choice") {
        rp.dist = Dist::Choice;
        auto vals = value_list(arg, ap, what + ".choice");
        if (!vals) {
          ok = false;
          continue;
        }
        rp.choices = *vals;
      } else if (dist == "uniform" || dist == "loguniform" || dist == "int") {
        const bool is_int = dist == "int";
        if (!arg.is_array() || arg.size() != 2 || !arg[0].is_number() || !arg[1].is_number() ||
            (is_int && (!arg[0].is_number_integer() || !arg[1].is_number_integer()))) {
          diag_.add(at(ap), what + "." + dist + ": expected [LO, HI] (" + (is_int ? "ints" : "numbers") + "), got " +
                                detail::show(arg));
          ok = false;
          continue;
        }
        if (is_int) {
          rp.dist = Dist::Int;
          rp.ilo = arg[0].get<int64_t>();
          rp.ihi = arg[1].get<int64_t>();
          if (rp.ilo > rp.ihi) {
            diag_.add(at(ap), what + ".int: LO must not exceed HI");
            ok = false;
          }
        } else {
          rp.dist = dist == "uniform" ? Dist::Uniform : Dist::LogUniform;
          rp.lo = arg[0].get<double>();
          rp.hi = arg[1].get<double>();
          if (rp.lo > rp.hi) {
            diag_.add(at(ap), what + "." + dist + ": LO must not exceed HI");
            ok = false;
          } else if (rp.dist == Dist::LogUniform && rp.lo <= 0) {
            diag_.add(at(ap), what + ".loguniform: bounds must be > 0");
            ok = false;
          }
        }
      } else {
        diag_.add(at(ap), what + ": unknown distribution '" + dist + "'" + hint(dist, kDistKeys) +
                              "; expected: " + list_of(kDistKeys));
        ok = false;
        continue;
      }
      std::vector<Json> shown = rp.dist == Dist::Choice ? rp.choices : std::vector<Json>{};
      ok &= check_key(key, p, shown);
      r.params.push_back(std::move(rp));
    }
    if (!ok) return std::nullopt;
    return r;
  }

  Block block(const Json& j, const std::string& ptr, bool top, std::vector<int64_t>* seeds) {
    Block b;
    if (!j.is_object()) {
      diag_.add(at(ptr), std::string(top ? "sweep" : "union entry") +
                             ": expected a map with grid, zip, points, random, union, exclude, when" +
                             (top ? ", seeds" : "") + "; got " + detail::show(j));
      return b;
    }
    for (auto& [k, v] : j.items()) {
      const std::string p = pointer_join(ptr, k);
      if (k == "grid") {
        b.grid = axes(v, p, "grid");
      } else if (k == "zip") {
        if (v.is_array()) {
          if (v.empty()) diag_.add(at(p), "zip: expected a map or a non-empty list of maps");
          for (size_t i = 0; i < v.size(); ++i) b.zips.push_back(zip_group(v[i], pointer_join(p, std::to_string(i))));
        } else {
          b.zips.push_back(zip_group(v, p));
        }
      } else if (k == "points") {
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "points: expected a non-empty list of maps {NODE.PARAM: VALUE, ...}");
          continue;
        }
        std::vector<Json> pts;
        for (size_t i = 0; i < v.size(); ++i)
          if (auto a = assignment(v[i], pointer_join(p, std::to_string(i)), "points[" + std::to_string(i) + "]", true))
            pts.push_back(*a);
        b.points = std::move(pts);
      } else if (k == "random") {
        b.random = random(v, p);
      } else if (k == "union") {
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "union: expected a non-empty list of sweep blocks");
          continue;
        }
        std::vector<Block> subs;
        for (size_t i = 0; i < v.size(); ++i) subs.push_back(block(v[i], pointer_join(p, std::to_string(i)), false, nullptr));
        b.unions = std::move(subs);
      } else if (k == "exclude") {
        if (!v.is_array()) {
          diag_.add(at(p), "exclude: expected a list of maps {NODE.PARAM: VALUE, ...}");
          continue;
        }
        for (size_t i = 0; i < v.size(); ++i)
          if (auto a = assignment(v[i], pointer_join(p, std::to_string(i)), "exclude[" + std::to_string(i) + "]", false))
            b.excludes.push_back(*a);
      } else if (k == "when") {
        if (!v.is_array()) {
          diag_.add(at(p), "when: expected a list of rules {if: {...}, set: {...}, unset: [...]}");
          continue;
        }
        for (size_t i = 0; i < v.size(); ++i) rule(v[i], pointer_join(p, std::to_string(i)), b);
      } else if (k == "seeds") {
        if (!top) {
          diag_.add(at(p), "seeds: only allowed at the top of the sweep (replicates apply to every trial)");
          continue;
        }
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "seeds: expected a non-empty list of ints");
          continue;
        }
        std::set<int64_t> seen;
        for (size_t i = 0; i < v.size(); ++i) {
          const SourceLoc l = at(pointer_join(p, std::to_string(i)));
          if (!v[i].is_number_integer()) diag_.add(l, "seeds[" + std::to_string(i) + "]: expected an int, got " + detail::show(v[i]));
          else if (!seen.insert(v[i].get<int64_t>()).second) diag_.add(l, "seeds: duplicate seed " + v[i].dump());
          else if (seeds) seeds->push_back(v[i].get<int64_t>());
        }
      } else {
        diag_.add(at(p), "sweep: unknown key '" + k + "'" + hint(k, kBlockKeys) + "; expected: " + list_of(kBlockKeys));
      }
    }
    // Keys set by two factors of one product would make their values depend
    // on the order of application: refuse.
    std::vector<std::pair<std::string, std::set<std::string>>> factors;
    auto keyset = [](const std::vector<Axis>& axes) {
      std::set<std::string> s;
      for (const auto& a : axes) s.insert(a.key);
      return s;
    };
    if (!b.grid.empty()) factors.push_back({"grid", keyset(b.grid)});
    for (const auto& z : b.zips) factors.push_back({"zip", keyset(z)});
    if (b.points) {
      std::set<std::string> s;
      for (const auto& pt : *b.points)
        for (auto& [k, v] : pt.items()) s.insert(k);
      factors.push_back({"points", s});
    }
    if (b.random) {
      std::set<std::string> s;
      for (const auto& rp : b.random->params) s.insert(rp.key);
      factors.push_back({"random", s});
    }
    if (b.unions) {
      std::set<std::string> s;
      for (const auto& sub : *b.unions) {
        auto ks = keys_of_block(sub);
        s.insert(ks.begin(), ks.end());
      }
      factors.push_back({"union", s});
    }
    for (size_t i = 0; i < factors.size(); ++i)
      for (size_t k = i + 1; k < factors.size(); ++k)
        for (const auto& key : factors[i].second)
          if (factors[k].second.count(key))
            diag_.add(at(ptr), "sweep key '" + key + "' is set by both " + factors[i].first + " and " +
                                   factors[k].first + "; a key may vary in one factor of a product only");
    return b;
  }

  void rule(const Json& j, const std::string& ptr, Block& b) {
    if (!j.is_object()) {
      diag_.add(at(ptr), "when: expected a rule {if: {NODE.PARAM: VALUE}, set: {...}, unset: [...]}");
      return;
    }
    bool ok = true;
    for (auto& [k, v] : j.items())
      if (std::find(kRuleKeys.begin(), kRuleKeys.end(), k) == kRuleKeys.end()) {
        diag_.add(at(pointer_join(ptr, k)), "when: unknown key '" + k + "'" + hint(k, kRuleKeys) +
                                                "; expected: if, set, unset");
        ok = false;
      }
    Rule r;
    if (!j.contains("if")) {
      diag_.add(at(ptr), "when: a rule needs 'if: {NODE.PARAM: VALUE}'");
      ok = false;
    } else if (auto c = assignment(j["if"], ptr + "/if", "when.if", false)) {
      r.cond = *c;
    } else {
      ok = false;
    }
    if (!j.contains("set") && !j.contains("unset")) {
      diag_.add(at(ptr), "when: a rule needs 'set: {...}' or 'unset: [...]'");
      ok = false;
    }
    if (j.contains("set")) {
      if (auto s = assignment(j["set"], ptr + "/set", "when.set", false)) r.set = *s;
      else ok = false;
    }
    if (j.contains("unset")) {
      const Json& u = j["unset"];
      std::vector<Json> items;
      if (u.is_string()) items.push_back(u);
      else if (u.is_array()) items.assign(u.begin(), u.end());
      if (items.empty()) {
        diag_.add(at(ptr + "/unset"), "when.unset: expected a key or a list of keys");
        ok = false;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string p = u.is_array() ? ptr + "/unset/" + std::to_string(i) : ptr + "/unset";
        if (!items[i].is_string()) {
          diag_.add(at(p), "when.unset: expected a key NODE.PARAM, got " + detail::show(items[i]));
          ok = false;
        } else if (check_key(items[i].get<std::string>(), p, {})) {
          r.unset.push_back(items[i].get<std::string>());
        } else {
          ok = false;
        }
      }
    }
    if (ok) b.whens.push_back(std::move(r));
  }

  const Experiment& exp_;
  Diagnostics& diag_;
  std::vector<KeyUse> uses_;
};

std::set<std::string> keys_of_block(const Block& b) {
  std::set<std::string> s;
  for (const auto& a : b.grid) s.insert(a.key);
  for (const auto& z : b.zips)
    for (const auto& a : z) s.insert(a.key);
  if (b.points)
    for (const auto& pt : *b.points)
      for (auto& [k, v] : pt.items()) s.insert(k);
  if (b.random)
    for (const auto& rp : b.random->params) s.insert(rp.key);
  if (b.unions)
    for (const auto& sub : *b.unions) {
      auto ks = keys_of_block(sub);
      s.insert(ks.begin(), ks.end());
    }
  for (const auto& r : b.whens)
    for (auto& [k, v] : r.set.items()) s.insert(k);
  return s;
}

Sweep parse_or_throw(const Experiment& exp) {
  Diagnostics diag;
  Sweep s = Parser(exp, diag).parse();
  diag.throw_if_any();
  return s;
}

// ------------------------------------------------------------ random draws --
// std::mt19937_64's output sequence is fixed by the C++ standard; the
// distributions of <random> are not (libstdc++ and libc++ differ), so the
// mapping from 64-bit draws to values is done here.

double unit_draw(std::mt19937_64& gen) {  // [0, 1), 53 random bits
  return static_cast<double>(gen() >> 11) * 0x1.0p-53;
}

uint64_t below(std::mt19937_64& gen, uint64_t range) {  // [0, range), unbiased
  const uint64_t threshold = (0 - range) % range;
  while (true) {
    const uint64_t x = gen();
    if (x >= threshold) return x % range;
  }
}

int64_t int_draw(std::mt19937_64& gen, int64_t lo, int64_t hi) {  // [lo, hi]
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  const uint64_t off = range == 0 ? gen() : below(gen, range);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + off);
}

Json draw(std::mt19937_64& gen, const RandomParam& p) {
  switch (p.dist) {
    case Dist::Uniform:
      return std::clamp(p.lo + unit_draw(gen) * (p.hi - p.lo), p.lo, p.hi);
    case Dist::LogUniform: {
      const double a = std::log(p.lo), b = std::log(p.hi);
      return std::clamp(std::exp(a + unit_draw(gen) * (b - a)), p.lo, p.hi);
    }
    case Dist::Int:
      return int_draw(gen, p.ilo, p.ihi);
    case Dist::Choice:
      return p.choices[static_cast<size_t>(int_draw(gen, 0, static_cast<int64_t>(p.choices.size()) - 1))];
  }
  return nullptr;
}

// ---------------------------------------------------------------- expansion --

bool matches(const Json& a, const Json& cond, const Experiment& exp) {
  for (auto& [k, v] : cond.items()) {
    std::optional<Json> actual;
    if (a.contains(k)) actual = a[k];
    else actual = detail::base_value(exp, k);
    if (!actual || !detail::values_equal(*actual, v)) return false;
  }
  return true;
}

// Assignments are compared by the config they produce: a key set to its
// base value (or to null where the file sets nothing) changes nothing.
std::string effective_key(const Json& a, const Experiment& exp) {
  Json eff = Json::object();
  for (auto& [k, v] : a.items()) {
    const std::optional<Json> base = detail::base_value(exp, k);
    if (base ? detail::values_equal(*base, v) : v.is_null()) continue;
    eff[k] = v;
  }
  return detail::canonical(eff);
}

// Keeps the first of assignments that produce the same config.
std::vector<Json> dedupe(const std::vector<Json>& in, const Experiment& exp) {
  std::vector<Json> out;
  std::set<std::string> seen;
  for (const auto& a : in)
    if (seen.insert(effective_key(a, exp)).second) out.push_back(a);
  return out;
}

std::vector<Json> product(const std::vector<std::vector<Json>>& factors, const SourceLoc& loc) {
  std::vector<Json> cur = {Json::object()};
  for (const auto& f : factors) {
    if (f.empty()) return {};
    if (cur.size() > kMaxAssignments / f.size())
      throw_bad_input(loc.str() + ": sweep expands to more than " + std::to_string(kMaxAssignments) +
                      " assignments; narrow it (--set-sweep) or split it");
    std::vector<Json> next;
    next.reserve(cur.size() * f.size());
    for (const auto& a : cur)
      for (const auto& b : f) {
        Json m = a;
        for (auto& [k, v] : b.items()) m[k] = v;
        next.push_back(std::move(m));
      }
    cur = std::move(next);
  }
  return cur;
}

std::vector<Json> expand_block(const Block& b, const Experiment& exp) {
  std::vector<std::vector<Json>> factors;
  if (!b.grid.empty()) {
    std::vector<std::vector<Json>> axes;
    for (const auto& a : b.grid) {
      std::vector<Json> vals;
      for (const auto& v : a.values) vals.push_back(Json{{a.key, v}});
      axes.push_back(std::move(vals));
    }
    factors.push_back(product(axes, exp.sweep_loc));
  }
  for (const auto& z : b.zips) {
    std::vector<Json> list;
    const size_t len = z.empty() ? 0 : z[0].values.size();
    for (size_t i = 0; i < len; ++i) {
      Json a = Json::object();
      for (const auto& axis : z) a[axis.key] = axis.values[i];
      list.push_back(std::move(a));
    }
    factors.push_back(std::move(list));
  }
  if (b.points) factors.push_back(*b.points);
  if (b.random) {
    std::mt19937_64 gen(b.random->seed);
    std::vector<Json> list;
    for (int64_t i = 0; i < b.random->n; ++i) {
      Json a = Json::object();
      for (const auto& p : b.random->params) a[p.key] = draw(gen, p);
      list.push_back(std::move(a));
    }
    factors.push_back(std::move(list));
  }
  if (b.unions) {
    std::vector<Json> list;
    for (const auto& sub : *b.unions) {
      auto part = expand_block(sub, exp);
      list.insert(list.end(), part.begin(), part.end());
    }
    factors.push_back(std::move(list));
  }
  std::vector<Json> out;
  for (auto& a : product(factors, exp.sweep_loc)) {
    bool excluded = false;
    for (const auto& ex : b.excludes)
      if (matches(a, ex, exp)) excluded = true;
    if (excluded) continue;
    for (const auto& r : b.whens) {
      if (!matches(a, r.cond, exp)) continue;
      for (auto& [k, v] : r.set.items()) a[k] = v;
      for (const auto& k : r.unset) a.erase(k);
    }
    out.push_back(std::move(a));
  }
  return dedupe(out, exp);
}

// ---------------------------------------------------------------- narrowing --

// Splits "a,b,[1,2],'x,y'" at the commas outside brackets and quotes.
std::vector<std::string> split_values(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    } else if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(cur);
  return out;
}

enum class OccKind { Grid, Zip, Points, Random };
struct Occ {
  OccKind kind;
  Json* block;
  Json* group;  // zip group, or the grid map, or the random params map
};

void find_occurrences(Json& block, const std::string& key, std::vector<Occ>& out) {
  if (!block.is_object()) return;
  if (block.contains("grid") && block["grid"].is_object() && block["grid"].contains(key))
    out.push_back({OccKind::Grid, &block, &block["grid"]});
  if (block.contains("zip")) {
    Json& z = block["zip"];
    if (z.is_object() && z.contains(key)) out.push_back({OccKind::Zip, &block, &z});
    if (z.is_array())
      for (auto& g : z)
        if (g.is_object() && g.contains(key)) out.push_back({OccKind::Zip, &block, &g});
  }
  if (block.contains("points") && block["points"].is_array())
    for (const auto& p : block["points"])
      if (p.is_object() && p.contains(key)) {
        out.push_back({OccKind::Points, &block, &block["points"]});
        break;
      }
  if (block.contains("random") && block["random"].is_object() && block["random"].contains("params") &&
      block["random"]["params"].is_object() && block["random"]["params"].contains(key))
    out.push_back({OccKind::Random, &block, &block["random"]["params"]});
  if (block.contains("union") && block["union"].is_array())
    for (auto& sub : block["union"]) find_occurrences(sub, key, out);
}

bool contains_value(const std::vector<Json>& values, const Json& v) {
  return std::any_of(values.begin(), values.end(), [&](const Json& x) { return detail::values_equal(x, v); });
}

// True when a block yields no assignment (an emptied axis); removes emptied
// union branches on the way.
bool prune_empty(Json& block) {
  if (!block.is_object()) return false;
  bool empty = false;
  if (block.contains("grid") && block["grid"].is_object())
    for (auto& [k, v] : block["grid"].items())
      if (v.is_array() && v.empty()) empty = true;
  if (block.contains("zip")) {
    auto group_empty = [](const Json& g) {
      return g.is_object() && !g.empty() && g.begin()->is_array() && g.begin()->empty();
    };
    const Json& z = block["zip"];
    if (group_empty(z)) empty = true;
    if (z.is_array())
      for (const auto& g : z)
        if (group_empty(g)) empty = true;
  }
  if (block.contains("points") && block["points"].is_array() && block["points"].empty()) empty = true;
  if (block.contains("union") && block["union"].is_array()) {
    Json kept = Json::array();
    for (auto& sub : block["union"])
      if (!prune_empty(sub)) kept.push_back(sub);
    block["union"] = kept;
    if (kept.empty()) empty = true;
  }
  return empty;
}

void erase_locs_under(std::map<std::string, SourceLoc>& locs, const std::string& ptr) {
  for (auto it = locs.lower_bound(ptr); it != locs.end();) {
    if (it->first != ptr && it->first.rfind(ptr + "/", 0) != 0) break;
    it = locs.erase(it);
  }
}

// JSON pointer of `target` inside `root`, found by address.
std::optional<std::string> pointer_of(const Json& root, const Json* target, const std::string& ptr) {
  if (&root == target) return ptr;
  if (root.is_object())
    for (auto& [k, v] : root.items())
      if (auto p = pointer_of(v, target, pointer_join(ptr, k))) return p;
  if (root.is_array())
    for (size_t i = 0; i < root.size(); ++i)
      if (auto p = pointer_of(root[i], target, pointer_join(ptr, std::to_string(i)))) return p;
  return std::nullopt;
}

// Sets `value` at the dotted path `segs` below `root` (creating maps); a null
// value erases the key. Returns the first segment that is not a map, if any.
std::optional<std::string> set_path(Json& root, const std::vector<std::string>& segs, const Json& value) {
  Json* cur = &root;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    if (!cur->is_object()) return segs[i > 0 ? i - 1 : 0];
    Json& next = (*cur)[segs[i]];
    if (next.is_null()) next = Json::object();
    if (!next.is_object()) return segs[i];
    cur = &next;
  }
  if (value.is_null()) cur->erase(segs.back());
  else (*cur)[segs.back()] = value;
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------- detail --

namespace detail {

std::optional<Json> base_value(const Experiment& exp, const std::string& key) {
  const size_t dot = key.find('.');
  if (dot == std::string::npos) return std::nullopt;
  const NodeSpec* node = exp.find_node(key.substr(0, dot));
  if (!node) return std::nullopt;
  const std::string rest = key.substr(dot + 1);
  if (rest == "plugin") return Json(node->plugin);
  const Json* cur = &node->params;
  for (const auto& seg : split(rest, '.')) {
    if (!cur->is_object() || !cur->contains(seg)) return std::nullopt;
    cur = &(*cur)[seg];
  }
  return *cur;
}

std::vector<std::string> sweep_keys(const Json& sweep) {
  std::set<std::string> keys;
  std::function<void(const Json&)> walk = [&](const Json& b) {
    if (!b.is_object()) return;
    auto add_map = [&](const Json& m) {
      if (m.is_object())
        for (auto& [k, v] : m.items()) keys.insert(k);
    };
    if (b.contains("grid")) add_map(b["grid"]);
    if (b.contains("zip")) {
      add_map(b["zip"]);
      if (b["zip"].is_array())
        for (const auto& g : b["zip"]) add_map(g);
    }
    if (b.contains("points") && b["points"].is_array())
      for (const auto& p : b["points"]) add_map(p);
    if (b.contains("random") && b["random"].is_object() && b["random"].contains("params"))
      add_map(b["random"]["params"]);
    if (b.contains("union") && b["union"].is_array())
      for (const auto& s : b["union"]) walk(s);
  };
  walk(sweep);
  return {keys.begin(), keys.end()};
}

void check_sweep(const Experiment& exp, Diagnostics& diag) { Parser(exp, diag).parse(); }

}  // namespace detail

// ---------------------------------------------------------------- public --

std::vector<Trial> expand_sweep(const Experiment& exp, uint64_t max_trials) {
  std::vector<Trial> trials;
  auto make = [](Json a, int64_t seed) {
    Trial t;
    t.assignment = std::move(a);
    t.assignment["seed"] = seed;
    t.seed = seed;
    return t;
  };
  if (exp.sweep.is_null()) {
    trials.push_back(make(Json::object(), exp.seed));
    return trials;
  }
  const Sweep s = parse_or_throw(exp);
  const std::vector<Json> assignments = expand_block(s.root, exp);
  if (assignments.empty())
    throw_bad_input(exp.sweep_loc.str() + ": sweep: expands to no trials (every assignment is excluded)");
  const std::vector<int64_t> seeds = s.seeds.empty() ? std::vector<int64_t>{exp.seed} : s.seeds;
  const uint64_t total = static_cast<uint64_t>(assignments.size()) * seeds.size();
  if (max_trials && total > max_trials)
    throw_bad_input(exp.sweep_loc.str() + ": sweep: expands to " + std::to_string(total) + " trials (" +
                    std::to_string(assignments.size()) + " assignments x " + std::to_string(seeds.size()) +
                    " seeds), more than the limit of " + std::to_string(max_trials));
  trials.reserve(total);
  for (int64_t seed : seeds)
    for (const auto& a : assignments) trials.push_back(make(a, seed));
  return trials;
}

void narrow_sweep(Experiment& target, const std::vector<std::string>& set_sweep_args) {
  Diagnostics diag;
  Experiment exp = target;  // committed only when every argument applies
  for (const auto& arg : set_sweep_args) {
    const SourceLoc where{"--set-sweep '" + arg + "'"};
    const size_t eq = arg.find('=');
    std::string key = arg.substr(0, eq);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t") + 1);
    if (eq == std::string::npos || key.empty() || eq + 1 >= arg.size()) {
      diag.add(where, "expected KEY=V1,V2,... (e.g. base.size=S,M)");
      continue;
    }
    std::vector<Json> values;
    bool ok = true;
    for (const auto& text : split_values(arg.substr(eq + 1))) {
      try {
        detail::LocMap scratch;
        detail::OJson v = detail::yaml_to_json(YAML::Load(text), where.file, "", scratch, diag, &where);
        Json pv = detail::to_plain(v);
        if (!contains_value(values, pv)) values.push_back(pv);
      } catch (const YAML::Exception& e) {
        diag.add(where, "cannot parse '" + text + "' as YAML: " + e.msg);
        ok = false;
      }
    }
    if (!ok) continue;

    if (key == "seed" || key == "seeds") {
      Json seeds = Json::array();
      for (const auto& v : values) {
        if (!v.is_number_integer()) {
          diag.add(where, "seeds: expected ints, got " + detail::show(v));
          ok = false;
        }
        seeds.push_back(v);
      }
      if (!ok) continue;
      if (exp.sweep.is_null()) exp.sweep = Json::object();
      exp.sweep["seeds"] = seeds;
      erase_locs_under(exp.locs, "/sweep/seeds");
      exp.locs["/sweep/seeds"] = where;
      continue;
    }

    std::vector<Occ> occs;
    find_occurrences(exp.sweep, key, occs);
    if (occs.empty()) {
      const auto axes = detail::sweep_keys(exp.sweep);
      diag.add(where, "'" + key + "' is not a sweep axis" + hint(key, axes) + "; axes: " +
                          (axes.empty() ? "(none)" : list_of(axes)) + ", seeds");
      continue;
    }
    if (occs.size() == 1 && occs[0].kind == OccKind::Grid) {
      // The one place the key varies: replace its values (new ones allowed).
      (*occs[0].group)[key] = values;
      if (auto p = pointer_of(exp.sweep, occs[0].group, "/sweep")) {
        const std::string ptr = pointer_join(*p, key);
        erase_locs_under(exp.locs, ptr);
        exp.locs[ptr] = where;
      }
      continue;
    }
    // Several places (union branches, zip, points, random): keep the listed values.
    std::vector<Json> matched;
    auto note = [&](const Json& v) {
      if (contains_value(values, v) && !contains_value(matched, v)) matched.push_back(v);
    };
    for (auto& occ : occs) {
      switch (occ.kind) {
        case OccKind::Grid: {
          Json kept = Json::array();
          for (const auto& v : (*occ.group)[key]) {
            note(v);
            if (contains_value(values, v)) kept.push_back(v);
          }
          (*occ.group)[key] = kept;
          break;
        }
        case OccKind::Zip: {
          Json& g = *occ.group;
          const Json col = g[key];
          Json out = Json::object();
          for (auto& [k, v] : g.items()) out[k] = Json::array();
          for (size_t i = 0; i < col.size(); ++i) {
            note(col[i]);
            if (!contains_value(values, col[i])) continue;
            for (auto& [k, v] : g.items())
              if (v.is_array() && i < v.size()) out[k].push_back(v[i]);
          }
          g = out;
          break;
        }
        case OccKind::Points: {
          Json kept = Json::array();
          for (const auto& p : *occ.group) {
            if (p.is_object() && p.contains(key)) {
              note(p[key]);
              if (!contains_value(values, p[key])) continue;
            }
            kept.push_back(p);
          }
          *occ.group = kept;
          break;
        }
        case OccKind::Random: {
          (*occ.group)[key] = Json{{"choice", values}};
          for (const auto& v : values) note(v);
          break;
        }
      }
    }
    std::vector<std::string> missing;
    for (const auto& v : values)
      if (!contains_value(matched, v)) missing.push_back(detail::value_text(v));
    if (!missing.empty()) {
      diag.add(where, "'" + key + "' takes no value " + detail::join(missing, ", ") +
                          " in this sweep: where a key varies in several places (union, zip, points), "
                          "--set-sweep only selects among the values already listed");
      continue;
    }
    if (prune_empty(exp.sweep)) diag.add(where, "no trial is left in the sweep");
  }
  exp.raw["sweep"] = exp.sweep;
  exp.sweep_loc = exp.loc_of("/sweep");
  if (diag.empty()) detail::check_sweep(exp, diag);
  diag.throw_if_any();
  target = std::move(exp);
}

void validate_sweep_keys(const Experiment& exp, const PluginLookup& lookup, const std::vector<std::string>& known_ids) {
  Diagnostics diag;
  const Sweep s = Parser(exp, diag).parse();
  if (!lookup) {
    diag.throw_if_any();
    return;
  }
  // The plugins each node may run: its own and any swept choice.
  std::map<std::string, std::vector<std::string>> plugins_of;
  auto add_plugin = [&](const std::string& key, const Json& v) {
    if (!v.is_string()) return;
    auto& list = plugins_of[key];
    if (std::find(list.begin(), list.end(), v.get<std::string>()) == list.end()) list.push_back(v.get<std::string>());
  };
  for (const auto& node : exp.nodes) add_plugin(node.name + ".plugin", node.plugin);
  for (const auto& use : s.uses)
    if (use.key.size() > 7 && use.key.compare(use.key.size() - 7, 7, ".plugin") == 0)
      for (const auto& v : use.values) add_plugin(use.key, v);

  auto schemas_for = [&](const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, const ParamSchema*>> out;
    for (const auto& id : ids)
      if (const PluginInfo* p = lookup(id)) out.push_back({id, &p->params});
    return out;
  };

  for (const auto& use : s.uses) {
    const size_t dot = use.key.find('.');
    const std::string node = use.key.substr(0, dot);
    const std::string rest = use.key.substr(dot + 1);
    const auto segs = detail::split(rest, '.');
    if (rest == "plugin") {
      for (const auto& v : use.values)
        if (v.is_string() && !lookup(v.get<std::string>()))
          diag.add(use.loc, "sweep key '" + use.key + "': unknown plugin '" + v.get<std::string>() + "'" +
                                hint(v.get<std::string>(), known_ids));
      continue;
    }
    // Walk the path through the schemas; nested plugin references switch
    // to the referenced plugin's schema.
    auto schemas = schemas_for(plugins_of[node + ".plugin"]);
    std::string prefix = node;
    for (size_t i = 0; i < segs.size() && !schemas.empty(); ++i) {
      std::vector<const ParamSpec*> specs;
      std::vector<std::string> known, owners;
      for (const auto& [id, schema] : schemas) {
        owners.push_back(id);
        for (const auto& spec : schema->specs()) {
          known.push_back(spec.name);
          if (spec.name == segs[i]) specs.push_back(&spec);
        }
      }
      if (specs.empty()) {
        std::sort(known.begin(), known.end());
        known.erase(std::unique(known.begin(), known.end()), known.end());
        diag.add(use.loc, "sweep key '" + use.key + "': " + detail::join(owners, " / ") + " has no param '" + segs[i] +
                              "'" + hint(segs[i], known) + "; params: " + (known.empty() ? "(none)" : list_of(known)));
        break;
      }
      prefix += "." + segs[i];
      if (i + 1 == segs.size()) break;
      const ParamSpec* spec = specs.front();
      if (spec->type == ParamType::Map) break;  // free-form below
      if (spec->type != ParamType::Plugin) {
        diag.add(use.loc, "sweep key '" + use.key + "': param '" + prefix.substr(node.size() + 1) + "' is a " +
                              std::string(to_string(spec->type)) + ", it has no field '" + segs[i + 1] + "'");
        break;
      }
      if (segs[i + 1] == "plugin" && i + 2 == segs.size()) {
        for (const auto& v : use.values)
          if (v.is_string() && !lookup(v.get<std::string>()))
            diag.add(use.loc, "sweep key '" + use.key + "': unknown plugin '" + v.get<std::string>() + "'" +
                                  hint(v.get<std::string>(), known_ids));
        break;
      }
      std::vector<std::string> ids;
      if (auto b = detail::base_value(exp, prefix + ".plugin"); b && b->is_string()) ids.push_back(b->get<std::string>());
      if (spec->default_value.is_object() && spec->default_value.contains("plugin") &&
          spec->default_value["plugin"].is_string())
        ids.push_back(spec->default_value["plugin"].get<std::string>());
      auto swept = plugins_of.find(prefix + ".plugin");
      if (swept != plugins_of.end()) ids.insert(ids.end(), swept->second.begin(), swept->second.end());
      schemas = schemas_for(ids);
    }
  }
  diag.throw_if_any();
}

Experiment apply_assignment(const Experiment& exp, const Trial& trial) {
  Experiment out = exp;
  Diagnostics diag;
  // Where each key is swept, for messages about its values.
  std::map<std::string, SourceLoc> key_locs;
  {
    Diagnostics ignored;
    for (const auto& use : Parser(exp, ignored).parse().uses) key_locs.emplace(use.key, use.loc);
  }
  for (auto& [key, value] : trial.assignment.items()) {
    if (key == "seed") continue;
    const SourceLoc loc = key_locs.count(key) ? key_locs[key] : exp.sweep_loc;
    const size_t dot = key.find('.');
    NodeSpec* node = dot == std::string::npos ? nullptr : out.find_node(key.substr(0, dot));
    if (!node) {
      diag.add(loc, "assignment key '" + key + "': unknown node" + hint(key.substr(0, dot), out.node_names()));
      continue;
    }
    const std::string rest = key.substr(dot + 1);
    Json& raw_node = out.raw["nodes"][node->name];
    if (rest == "plugin") {
      if (!value.is_string()) {
        diag.add(loc, key + ": expected a plugin id KIND/NAME, got " + detail::show(value));
        continue;
      }
      node->plugin = value.get<std::string>();
      raw_node["plugin"] = value;
      out.locs[pointer_join(pointer_join("/nodes", node->name), "plugin")] = loc;
      continue;
    }
    const auto segs = detail::split(rest, '.');
    if (auto bad = set_path(node->params, segs, value)) {
      diag.add(loc, key + ": param '" + *bad + "' of node '" + node->name + "' is not a map");
      continue;
    }
    if (!raw_node.contains("params") || !raw_node["params"].is_object()) raw_node["params"] = Json::object();
    set_path(raw_node["params"], segs, value);
    for (auto it = node->param_locs.lower_bound(rest); it != node->param_locs.end();) {
      if (it->first != rest && it->first.rfind(rest + ".", 0) != 0 && it->first.rfind(rest + "[", 0) != 0) break;
      it = node->param_locs.erase(it);
    }
    node->param_locs[rest] = loc;
  }
  out.seed = trial.seed;
  out.raw["seed"] = trial.seed;
  diag.throw_if_any();
  return out;
}

std::string trial_label(const Trial& trial) {
  std::string out;
  for (auto& [k, v] : trial.assignment.items()) {
    if (k == "seed") continue;
    if (!out.empty()) out += ' ';
    out += k + "=" + detail::value_text(v);
  }
  if (!out.empty()) out += ' ';
  return out + "seed=" + std::to_string(trial.seed);
}

std::vector<ResolvedGraph> resolve_trials(const Experiment& exp, const std::vector<Trial>& trials,
                                          const PluginLookup& lookup, const std::vector<std::string>& known_ids) {
  std::vector<ResolvedGraph> out;
  std::vector<std::string> lines;
  std::set<std::string> seen;
  for (const auto& t : trials) {
    try {
      out.push_back(resolve_graph(apply_assignment(exp, t), lookup, known_ids));
    } catch (const Error& e) {
      if (!e.is_bad_input()) throw;
      for (const auto& line : detail::split(e.what(), '\n'))
        if (seen.insert(line).second)
          lines.push_back(trials.size() > 1 ? line + " (trial " + trial_label(t) + ")" : line);
    }
  }
  if (!lines.empty()) throw_bad_input(detail::join(lines, "\n"));
  return out;
}

}  // namespace mstar::config
