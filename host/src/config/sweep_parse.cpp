// Sweeps, parsing: the `sweep:` block -> the Sweep of sweep_ast.h, with every
// problem located in the file, and back to JSON.
#include <algorithm>
#include <set>

#include "config/sweep_ast.h"

namespace mstar::config::sweeps {

using detail::hint;
using detail::list_of;
using detail::pointer_join;

namespace {

const std::vector<std::string> kBlockKeys = {"grid", "zip", "points", "random", "union", "exclude", "when", "seeds"};
const std::vector<std::string> kRandomKeys = {"n", "seed", "params"};
const std::vector<std::string> kDistKeys = {"uniform", "loguniform", "int", "choice"};
const std::vector<std::string> kRuleKeys = {"if", "set", "unset"};

struct Axis {
  std::string key;
  std::vector<Json> values;
};

// A block's factors multiply in this order, whatever the file's order.
int product_rank(const Factor& f) {
  if (const auto* t = std::get_if<Table>(&f)) return static_cast<int>(t->construct);
  return std::holds_alternative<Random>(f) ? 3 : 4;
}

class Parser {
 public:
  // Without `exp`, keys are not checked and problems have no location.
  Parser(const Experiment* exp, Diagnostics& diag) : exp_(exp), diag_(diag) {}

  Sweep parse(const Json& sweep) {
    Sweep s;
    if (sweep.is_null()) return s;
    s.root = block(sweep, "/sweep", &s);
    s.uses = std::move(uses_);
    return s;
  }

 private:
  SourceLoc at(const std::string& ptr) const { return exp_ ? exp_->loc_of(ptr) : SourceLoc{}; }

  // A key "node.param[.sub]" or "node.plugin" naming an existing node.
  bool check_key(const std::string& key, const std::string& ptr, const std::vector<Json>& values) {
    const SourceLoc loc = at(ptr);
    if (!exp_) {
      uses_.push_back({key, loc, values});
      return true;
    }
    const Experiment& exp = *exp_;
    const auto names = exp.node_names();
    if (key == "seed") {
      diag_.add(loc, "sweep key 'seed': the trial seed is not swept as a factor; list the seeds under 'seeds: [...]'");
      return false;
    }
    const size_t dot = key.find('.');
    const std::string node = key.substr(0, dot);
    if (dot == std::string::npos) {
      if (exp.find_node(node))
        diag_.add(loc, "sweep key '" + key + "': expected NODE.PARAM, e.g. " + key + ".lr");
      else
        diag_.add(loc, "sweep key '" + key + "': expected NODE.PARAM (e.g. train.lr); unknown node '" + node + "'" +
                           hint(node, names));
      return false;
    }
    if (!exp.find_node(node)) {
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

  Table zip_group(const Json& j, const std::string& ptr) {
    const std::vector<Axis> group = axes(j, ptr, "zip");
    Table t{Table::Construct::Zip, {}, {}};
    size_t len = group.empty() ? 0 : group[0].values.size();
    for (size_t i = 1; i < group.size(); ++i)
      if (group[i].values.size() != group[0].values.size()) {
        diag_.add(at(ptr), "zip: '" + group[0].key + "' has " + std::to_string(group[0].values.size()) +
                               " values but '" + group[i].key + "' has " + std::to_string(group[i].values.size()) +
                               " (zipped keys vary together and need lists of equal length)");
        len = std::min(len, group[i].values.size());
      }
    for (const auto& a : group) t.columns.push_back(a.key);
    for (size_t i = 0; i < len; ++i) {
      Json row = Json::object();
      for (const auto& a : group) row[a.key] = a.values[i];
      t.rows.push_back(std::move(row));
    }
    return t;
  }

  std::optional<Random> random(const Json& j, const std::string& ptr) {
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
    Random r;
    r.src = j;
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
      rp.spec = spec;
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

  // `top` is the sweep itself (where `seeds` may appear), null for a union entry.
  Block block(const Json& j, const std::string& ptr, Sweep* top) {
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
        for (auto& a : axes(v, p, "grid")) {
          Table t{Table::Construct::Grid, {a.key}, {}};
          for (auto& val : a.values) t.rows.push_back(Json{{a.key, std::move(val)}});
          b.factors.push_back(std::move(t));
        }
      } else if (k == "zip") {
        if (v.is_array()) {
          b.zip_list = true;
          if (v.empty()) diag_.add(at(p), "zip: expected a map or a non-empty list of maps");
          for (size_t i = 0; i < v.size(); ++i) b.factors.push_back(zip_group(v[i], pointer_join(p, std::to_string(i))));
        } else {
          b.factors.push_back(zip_group(v, p));
        }
      } else if (k == "points") {
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "points: expected a non-empty list of maps {NODE.PARAM: VALUE, ...}");
          continue;
        }
        Table t{Table::Construct::Points, {}, {}};
        for (size_t i = 0; i < v.size(); ++i)
          if (auto a = assignment(v[i], pointer_join(p, std::to_string(i)), "points[" + std::to_string(i) + "]", true))
            t.rows.push_back(*a);
        b.factors.push_back(std::move(t));
      } else if (k == "random") {
        if (auto r = random(v, p)) b.factors.push_back(std::move(*r));
      } else if (k == "union") {
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "union: expected a non-empty list of sweep blocks");
          continue;
        }
        Union u;
        for (size_t i = 0; i < v.size(); ++i) u.blocks.push_back(block(v[i], pointer_join(p, std::to_string(i)), nullptr));
        b.factors.push_back(std::move(u));
      } else if (k == "exclude") {
        if (!v.is_array()) {
          diag_.add(at(p), "exclude: expected a list of maps {NODE.PARAM: VALUE, ...}");
          continue;
        }
        b.excludes.emplace();
        for (size_t i = 0; i < v.size(); ++i)
          if (auto a = assignment(v[i], pointer_join(p, std::to_string(i)), "exclude[" + std::to_string(i) + "]", false))
            b.excludes->push_back(*a);
      } else if (k == "when") {
        if (!v.is_array()) {
          diag_.add(at(p), "when: expected a list of rules {if: {...}, set: {...}, unset: [...]}");
          continue;
        }
        b.whens.emplace();
        for (size_t i = 0; i < v.size(); ++i) rule(v[i], pointer_join(p, std::to_string(i)), *b.whens);
      } else if (k == "seeds") {
        if (!top) {
          diag_.add(at(p), "seeds: only allowed at the top of the sweep (replicates apply to every trial)");
          continue;
        }
        if (!v.is_array() || v.empty()) {
          diag_.add(at(p), "seeds: expected a non-empty list of ints");
          continue;
        }
        top->seeds_src = v;
        std::set<int64_t> seen;
        for (size_t i = 0; i < v.size(); ++i) {
          const SourceLoc l = at(pointer_join(p, std::to_string(i)));
          if (!v[i].is_number_integer()) diag_.add(l, "seeds[" + std::to_string(i) + "]: expected an int, got " + detail::show(v[i]));
          else if (!seen.insert(v[i].get<int64_t>()).second) diag_.add(l, "seeds: duplicate seed " + v[i].dump());
          else top->seeds.push_back(v[i].get<int64_t>());
        }
      } else {
        diag_.add(at(p), "sweep: unknown key '" + k + "'" + hint(k, kBlockKeys) + "; expected: " + list_of(kBlockKeys));
      }
    }
    std::stable_sort(b.factors.begin(), b.factors.end(),
                     [](const Factor& x, const Factor& y) { return product_rank(x) < product_rank(y); });
    check_disjoint(b, at(ptr), diag_);
    return b;
  }

  void rule(const Json& j, const std::string& ptr, std::vector<Rule>& rules) {
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
    r.src = j;
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
    if (ok) rules.push_back(std::move(r));
  }

  const Experiment* exp_;
  Diagnostics& diag_;
  std::vector<KeyUse> uses_;
};

}  // namespace

Sweep parse(const Experiment& exp, Diagnostics& diag) { return Parser(&exp, diag).parse(exp.sweep); }

Sweep parse_checked(const Json& sweep) {
  Diagnostics ignored;
  return Parser(nullptr, ignored).parse(sweep);
}

}  // namespace mstar::config::sweeps

namespace mstar::config::detail {

void check_sweep(const Experiment& exp, Diagnostics& diag) { sweeps::parse(exp, diag); }

}  // namespace mstar::config::detail
