// Results: resolve targets to runs, apply the filter, and load one column of
// values per field. Each column is one SQL statement with bound parameters
// (series selectors: one indexed statement per distinct node instance), so a
// query costs O(fields) statements, not O(runs x fields).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "impl.h"
#include "mstar/registry/query.h"
#include "db/statement.h"

namespace mstar::registry {

using detail::Statement;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

detail::Connection& db(Registry& reg) { return detail::RegistryAccess::connection(reg); }

double value_or_nan(const Statement& st, int column) { return st.is_null(column) ? kNaN : st.real(column); }

Value param_value(const std::string& type, const std::string& text, const Statement& st, int num_column) {
  if (type == "number") return st.is_null(num_column) ? Value(kNaN) : Value(st.real(num_column));
  if (type == "bool") return text == "true";
  if (type == "null") return {};
  return text;  // string raw; arrays and objects as JSON text
}

}  // namespace

// Which runs the targets name. With only sweeps, statements are restricted to
// them in SQL; otherwise rows are matched by id in memory.
struct Results::Scope {
  std::vector<std::string> sweeps;  // bound as ?first, ?first+1...
  bool sql_restricted = false;
  std::unordered_map<std::string, size_t> row_of;

  // " AND <col> IN (SELECT id FROM runs WHERE sweep_id IN (?3, ?4))"
  std::string clause(std::string_view run_id_column, int first) const {
    if (!sql_restricted) return "";
    std::string params;
    for (size_t i = 0; i < sweeps.size(); ++i) params += fmt::format("{}?{}", i ? ", " : "", first + static_cast<int>(i));
    return fmt::format(" AND {} IN (SELECT id FROM runs WHERE sweep_id IN ({}))", run_id_column, params);
  }
  void bind(Statement& st, int first) const {
    if (!sql_restricted) return;
    for (size_t i = 0; i < sweeps.size(); ++i) st.bind(first + static_cast<int>(i), sweeps[i]);
  }
  const size_t* row(const std::string& run_id) const {
    auto it = row_of.find(run_id);
    return it == row_of.end() ? nullptr : &it->second;
  }
};

Results::Results(Registry& reg, const std::vector<std::string>& targets, const Filter& filter)
    : reg_(reg), scope_(std::make_unique<Scope>()) {
  std::set<std::string> run_ids, sweep_set;
  for (const std::string& t : targets) {
    if (auto sweep = reg.get_sweep(t)) {
      if (sweep_set.insert(sweep->id).second) sweep_ids_.push_back(sweep->id);
      continue;
    }
    if (auto run = reg.get_run(t)) {
      run_ids.insert(run->id);
      continue;
    }
    throw_bad_input("no sweep or run '" + t + "' in " + reg.path().string() +
                    " (see `mstar runs` for runs, `mstar status` for sweeps)");
  }
  scope_->sweeps = sweep_ids_;
  scope_->sql_restricted = !sweep_ids_.empty() && run_ids.empty();

  detail::retry_busy(reg_.path(), "select runs", [&] {
    runs_.clear();
    Statement st(db(reg_), "SELECT id, sweep_id, name, status, reason, created, started, finished, seed "
                                "FROM runs WHERE TRUE" + scope_->clause("id", 1) + " ORDER BY created, rowid");
    scope_->bind(st, 1);
    while (st.step()) {
      Run r;
      r.id = st.text(0);
      r.sweep_id = st.text(1);
      if (!targets.empty() && !run_ids.count(r.id) && !sweep_set.count(r.sweep_id)) continue;
      r.name = st.text(2);
      r.status = st.text(3);
      r.reason = st.text(4);
      r.created = st.real(5);
      r.started = st.real(6);
      r.finished = st.real(7);
      r.seed = st.int64(8);
      runs_.push_back(std::move(r));
    }
  });
  for (size_t i = 0; i < runs_.size(); ++i) scope_->row_of[runs_[i].id] = i;
  if (filter.empty()) return;

  std::vector<const std::vector<Value>*> cols;
  for (const Field& f : filter.fields()) cols.push_back(&column(f));
  std::vector<bool> keep(runs_.size());
  std::vector<Value> values(cols.size());
  for (size_t r = 0; r < runs_.size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) values[c] = (*cols[c])[r];
    keep[r] = filter.matches(values);
  }
  auto compact = [&](auto& vec) {
    size_t out = 0;
    for (size_t r = 0; r < vec.size(); ++r) {
      if (!keep[r]) continue;
      if (out != r) vec[out] = std::move(vec[r]);  // never self-move: it empties strings
      ++out;
    }
    vec.resize(out);
  };
  compact(runs_);
  for (auto& [name, col] : columns_) compact(col);
  for (auto& [node, keys] : cache_keys_) compact(keys);
  scope_->row_of.clear();
  for (size_t i = 0; i < runs_.size(); ++i) scope_->row_of[runs_[i].id] = i;
}

Results::~Results() = default;

const std::vector<Value>& Results::column(const Field& field) {
  const std::string name = field.name();
  auto it = columns_.find(name);
  if (it != columns_.end()) return it->second;
  return columns_.emplace(name, load(field)).first->second;
}

std::vector<std::string> Results::cache_keys(const std::string& node) {
  auto it = cache_keys_.find(node);
  if (it != cache_keys_.end()) return it->second;
  std::vector<std::string> keys(runs_.size());
  detail::retry_busy(reg_.path(), "node instances of " + node, [&] {
    Statement st(db(reg_), "SELECT n.run_id, n.cache_key FROM node_runs n WHERE n.node = ?1" +
                                    scope_->clause("n.run_id", 2));
    st.bind(1, node);
    scope_->bind(st, 2);
    while (st.step())
      if (const size_t* row = scope_->row(st.text(0))) keys[*row] = st.text(1);
  });
  return cache_keys_.emplace(node, keys).first->second;
}

std::vector<Value> Results::load(const Field& f) {
  std::vector<Value> col(runs_.size());
  switch (f.kind) {
    case FieldKind::Run: {
      for (size_t i = 0; i < runs_.size(); ++i) {
        const Run& r = runs_[i];
        auto time = [](double t) { return t > 0 ? Value(t) : Value(); };
        if (f.key == "id") col[i] = r.id;
        else if (f.key == "sweep") col[i] = r.sweep_id.empty() ? Value() : Value(r.sweep_id);
        else if (f.key == "name") col[i] = r.name;
        else if (f.key == "status") col[i] = r.status;
        else if (f.key == "reason") col[i] = r.reason;
        else if (f.key == "seed") col[i] = static_cast<double>(r.seed);
        else if (f.key == "created") col[i] = time(r.created);
        else if (f.key == "started") col[i] = time(r.started);
        else if (f.key == "finished") col[i] = time(r.finished);
        else if (f.key == "duration")
          col[i] = r.started > 0 && r.finished > 0 ? Value(r.finished - r.started) : Value();
      }
      return col;
    }
    case FieldKind::Param: {
      detail::retry_busy(reg_.path(), "load " + f.name(), [&] {
        Statement st(db(reg_), "SELECT p.run_id, p.value_type, p.value_text, p.value_num FROM params p "
                                    "WHERE p.key = ?1" + scope_->clause("p.run_id", 2));
        st.bind(1, f.key);
        scope_->bind(st, 2);
        while (st.step())
          if (const size_t* row = scope_->row(st.text(0))) col[*row] = param_value(st.text(1), st.text(2), st, 3);
      });
      return col;
    }
    case FieldKind::Summary: {
      detail::retry_busy(reg_.path(), "load " + f.name(), [&] {
        Statement st(db(reg_),
                     "SELECT n.run_id, s.value FROM node_runs n "
                     "JOIN summaries s ON s.cache_key = n.cache_key AND s.key = ?2 WHERE n.node = ?1" +
                         scope_->clause("n.run_id", 3));
        st.bind(1, f.node).bind(2, f.key);
        scope_->bind(st, 3);
        while (st.step())
          if (const size_t* row = scope_->row(st.text(0))) col[*row] = value_or_nan(st, 1);
      });
      return col;
    }
    case FieldKind::Series: break;
  }
  // A value picked from each node instance's series: one indexed statement
  // per distinct cache key (instances shared by several runs are read once).
  const std::vector<std::string> keys = cache_keys(f.node);
  std::string sql;
  switch (f.select) {
    case SeriesSelect::Last:
      sql = "SELECT value, 1 FROM metrics WHERE cache_key = ?1 AND key = ?2 ORDER BY step DESC LIMIT 1";
      break;
    case SeriesSelect::First:
      sql = "SELECT value, 1 FROM metrics WHERE cache_key = ?1 AND key = ?2 ORDER BY step LIMIT 1";
      break;
    case SeriesSelect::Max: sql = "SELECT max(value), count(*) FROM metrics WHERE cache_key = ?1 AND key = ?2"; break;
    case SeriesSelect::Min: sql = "SELECT min(value), count(*) FROM metrics WHERE cache_key = ?1 AND key = ?2"; break;
    case SeriesSelect::Mean: sql = "SELECT avg(value), count(*) FROM metrics WHERE cache_key = ?1 AND key = ?2"; break;
    case SeriesSelect::Step:
      sql = "SELECT value, 1 FROM metrics WHERE cache_key = ?1 AND key = ?2 AND step = ?3";
      break;
  }
  detail::retry_busy(reg_.path(), "load " + f.name(), [&] {
    Statement st(db(reg_), sql);
    std::unordered_map<std::string, Value> memo;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].empty()) continue;
      auto it = memo.find(keys[i]);
      if (it == memo.end()) {
        st.bind(1, keys[i]).bind(2, f.key);
        if (f.select == SeriesSelect::Step) st.bind(3, f.step);
        Value v;  // no point (or count 0): missing; NULL max of NaN points: NaN
        if (st.step() && st.int64(1) > 0) v = value_or_nan(st, 0);
        st.reset();
        it = memo.emplace(keys[i], std::move(v)).first;
      }
      col[i] = it->second;
    }
  });
  return col;
}

std::vector<std::string> Results::param_keys() {
  std::set<std::string> keys;
  detail::retry_busy(reg_.path(), "param keys", [&] {
    Statement st(db(reg_), "SELECT p.run_id, p.key FROM params p WHERE TRUE" + scope_->clause("p.run_id", 1));
    scope_->bind(st, 1);
    while (st.step())
      if (scope_->row(st.text(0))) keys.insert(st.text(1));
  });
  return {keys.begin(), keys.end()};
}

std::vector<Field> Results::summary_fields() {
  std::set<std::pair<std::string, std::string>> seen;
  detail::retry_busy(reg_.path(), "summary keys", [&] {
    Statement st(db(reg_), "SELECT n.run_id, n.node, s.key FROM node_runs n "
                                "JOIN summaries s ON s.cache_key = n.cache_key WHERE TRUE" +
                                    scope_->clause("n.run_id", 1));
    scope_->bind(st, 1);
    while (st.step())
      if (scope_->row(st.text(0))) seen.emplace(st.text(1), st.text(2));
  });
  std::vector<Field> out;
  for (const auto& [node, key] : seen) {
    Field f;
    f.kind = FieldKind::Summary;
    f.node = node;
    f.key = key;
    out.push_back(f);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Results::series_keys() {
  std::set<std::pair<std::string, std::string>> out;
  detail::retry_busy(reg_.path(), "series keys", [&] {
    std::set<std::pair<std::string, std::string>> instances;  // (node, cache_key)
    Statement nodes(db(reg_), "SELECT n.run_id, n.node, n.cache_key FROM node_runs n WHERE TRUE" +
                                       scope_->clause("n.run_id", 1));
    scope_->bind(nodes, 1);
    while (nodes.step())
      if (scope_->row(nodes.text(0))) instances.emplace(nodes.text(1), nodes.text(2));
    // Distinct keys of one instance by seeking past each key in the primary
    // key: O(keys * log n), without reading the points.
    Statement next(db(reg_), "SELECT key FROM metrics WHERE cache_key = ?1 AND key > ?2 ORDER BY key LIMIT 1");
    for (const auto& [node, cache_key] : instances) {
      std::string key;
      for (;;) {
        next.bind(1, cache_key).bind(2, key);
        const bool found = next.step();
        if (found) key = next.text(0);
        next.reset();
        if (!found) break;
        out.emplace(node, key);
      }
    }
  });
  return {out.begin(), out.end()};
}

std::vector<Field> Results::varying_params(bool with_seed) {
  std::vector<Field> out;
  for (const std::string& key : param_keys()) {
    if (key == "seed" && !with_seed) continue;
    Field f;
    f.kind = FieldKind::Param;
    f.key = key;
    std::vector<Value> col = column(f);
    std::sort(col.begin(), col.end(), [](const Value& a, const Value& b) { return compare_for_sort(a, b) < 0; });
    auto last = std::unique(col.begin(), col.end(),
                            [](const Value& a, const Value& b) { return compare_for_sort(a, b) == 0; });
    if (last - col.begin() > 1) out.push_back(f);
  }
  return out;
}

const std::vector<Results::Curve>& Results::curves(const std::string& node, const std::string& key) {
  auto it = curves_.find({node, key});
  if (it != curves_.end()) return it->second;
  const std::vector<std::string> keys = cache_keys(node);
  std::vector<Curve> out(runs_.size());
  detail::retry_busy(reg_.path(), "series " + node + "." + key, [&] {
    Statement st(db(reg_), "SELECT step, value FROM metrics WHERE cache_key = ?1 AND key = ?2 ORDER BY step");
    std::unordered_map<std::string, size_t> first_row;  // shared instances: copy
    for (size_t i = 0; i < keys.size(); ++i) {
      out[i] = Curve{};
      if (keys[i].empty()) continue;
      if (auto f = first_row.find(keys[i]); f != first_row.end()) {
        out[i] = out[f->second];
        continue;
      }
      first_row[keys[i]] = i;
      st.bind(1, keys[i]).bind(2, key);
      while (st.step()) {
        out[i].steps.push_back(st.int64(0));
        out[i].values.push_back(value_or_nan(st, 1));
      }
      st.reset();
    }
  });
  return curves_.emplace(std::make_pair(node, key), std::move(out)).first->second;
}

}  // namespace mstar::registry
