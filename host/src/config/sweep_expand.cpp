// Sweeps, expansion: the parsed sweep -> its assignments (products, random
// draws, exclude, when, duplicates) -> trials.
#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "config/sweep_ast.h"
#include "mstar/error.h"

namespace mstar::config {
namespace sweeps {
namespace {

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

}  // namespace

std::vector<Json> expand_block(const Block& b, const Experiment& exp) {
  std::vector<std::vector<Json>> factors;
  for (const auto& f : b.factors) {
    if (const auto* t = std::get_if<Table>(&f)) {
      factors.push_back(t->rows);
    } else if (const auto* r = std::get_if<Random>(&f)) {
      std::mt19937_64 gen(r->seed);
      std::vector<Json> list;
      for (int64_t i = 0; i < r->n; ++i) {
        Json a = Json::object();
        for (const auto& p : r->params) a[p.key] = draw(gen, p);
        list.push_back(std::move(a));
      }
      factors.push_back(std::move(list));
    } else {
      std::vector<Json> list;
      for (const auto& sub : std::get<Union>(f).blocks) {
        auto part = expand_block(sub, exp);
        list.insert(list.end(), part.begin(), part.end());
      }
      factors.push_back(std::move(list));
    }
  }
  std::vector<Json> out;
  for (auto& a : product(factors, exp.sweep_loc)) {
    bool excluded = false;
    if (b.excludes)
      for (const auto& ex : *b.excludes)
        if (matches(a, ex, exp)) excluded = true;
    if (excluded) continue;
    if (b.whens)
      for (const auto& r : *b.whens) {
        if (!matches(a, r.cond, exp)) continue;
        for (auto& [k, v] : r.set.items()) a[k] = v;
        for (const auto& k : r.unset) a.erase(k);
      }
    out.push_back(std::move(a));
  }
  return dedupe(out, exp);
}

}  // namespace sweeps

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
  detail::Diagnostics diag;
  const sweeps::Sweep s = sweeps::parse(exp, diag);
  diag.throw_if_any();
  const std::vector<Json> assignments = sweeps::expand_block(s.root, exp);
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

}  // namespace mstar::config
