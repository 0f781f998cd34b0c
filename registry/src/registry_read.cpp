// The read side of the registry. Each read is one (deferred) transaction, so
// a multi-statement read sees one snapshot even while writers commit.
#include "mstar/registry/registry.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "impl.h"
#include "values.h"

namespace mstar::registry {

using detail::Statement;

namespace {

constexpr const char* kRunColumns =
    "id, sweep_id, name, status, reason, created, started, finished, seed, config_json, env_json";

RunRecord run_from_row(const Statement& st) {
  RunRecord r;
  r.id = st.text(0);
  r.sweep_id = st.text(1);
  r.name = st.text(2);
  r.status = st.text(3);
  r.reason = st.text(4);
  r.created = st.real(5);
  r.started = st.real(6);
  r.finished = st.real(7);
  r.seed = st.int64(8);
  r.config = detail::parse_stored_json(st.text(9), "config_json of run " + r.id);
  r.env = detail::parse_stored_json(st.text(10), "env_json of run " + r.id);
  return r;
}

constexpr const char* kSweepColumns = "id, name, config_json, created, updated";

SweepRecord sweep_from_row(const Statement& st) {
  SweepRecord s;
  s.id = st.text(0);
  s.name = st.text(1);
  s.config = detail::parse_stored_json(st.text(2), "config_json of sweep " + s.id);
  s.created = st.real(3);
  s.updated = st.real(4);
  return s;
}

// NULL stands for NaN: SQLite cannot store NaN.
double value_or_nan(const Statement& st, int column) {
  return st.is_null(column) ? std::numeric_limits<double>::quiet_NaN() : st.real(column);
}

// Every string that starts with `prefix` lies in [prefix, prefix + U+10FFFF)
// but those with U+10FFFF right after it: TEXT compares bytewise (in
// PostgreSQL through COLLATE "C"), and the bound must be valid UTF-8 there.
std::string prefix_end(const std::string& prefix) { return prefix + "\xf4\x8f\xbf\xbf"; }

// Ids starting with `prefix`, at most `limit`.
std::vector<std::string> ids_with_prefix(detail::Connection& db, const char* table, const std::string& prefix, size_t limit) {
  Statement st(db, fmt::format("SELECT id FROM {} WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3", table));
  st.bind(1, prefix).bind(2, prefix_end(prefix)).bind(3, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  while (st.step()) ids.push_back(st.text(0));
  return ids;
}

[[noreturn]] void throw_ambiguous(const std::filesystem::path& path, std::string_view what, const std::string& prefix,
                                  std::vector<std::string> candidates, size_t shown) {
  const bool more = candidates.size() > shown;
  if (more) candidates.resize(shown);
  throw Error(ErrorCategory::BadInput,
              fmt::format("{} id prefix '{}' is ambiguous in {}: it matches {}{}", what, prefix, path.string(),
                          fmt::join(candidates, ", "), more ? ", ..." : ""));
}

}  // namespace

bool Registry::has_metrics(const std::string& cache_key) const {
  return impl_->read("has metrics " + cache_key, [&] {
    Statement st(impl_->db(), R"sql(
      SELECT EXISTS(SELECT 1 FROM metrics WHERE cache_key = ?1)
          OR EXISTS(SELECT 1 FROM summaries WHERE cache_key = ?1))sql");
    st.bind(1, cache_key);
    st.step();
    return st.int64(0) != 0;
  });
}

std::vector<RunRecord> Registry::list_runs(const std::string& sweep_id_or_empty) const {
  return impl_->read("list runs", [&] {
    const std::string where = sweep_id_or_empty.empty() ? "" : "WHERE sweep_id = ?1 ";
    Statement st(impl_->db(),
                 fmt::format("SELECT {} FROM runs {}ORDER BY created DESC, rowid DESC", kRunColumns, where));
    if (!sweep_id_or_empty.empty()) st.bind(1, sweep_id_or_empty);
    std::vector<RunRecord> runs;
    while (st.step()) runs.push_back(run_from_row(st));
    return runs;
  });
}

std::optional<RunRecord> Registry::get_run(const std::string& id_or_unique_prefix) const {
  if (id_or_unique_prefix.empty()) return std::nullopt;
  return impl_->read("get run " + id_or_unique_prefix, [&]() -> std::optional<RunRecord> {
    constexpr size_t kShown = 10;
    std::string id = id_or_unique_prefix;
    std::vector<std::string> ids = ids_with_prefix(impl_->db(), "runs", id, kShown + 1);
    if (ids.empty()) return std::nullopt;
    // An exact match wins over longer ids that it prefixes; ids are sorted.
    if (ids.size() > 1 && ids.front() != id) throw_ambiguous(impl_->path, "run", id, ids, kShown);
    Statement st(impl_->db(), fmt::format("SELECT {} FROM runs WHERE id = ?1", kRunColumns));
    st.bind(1, ids.front());
    if (!st.step()) return std::nullopt;
    return run_from_row(st);
  });
}

std::vector<NodeRunRecord> Registry::node_runs(const std::string& run_id) const {
  return impl_->read("node runs of " + run_id, [&] {
    Statement st(impl_->db(), R"sql(
      SELECT run_id, node, cache_key, plugin, plugin_version, status, reason, log_path, artifact_path,
             exit_code, signal, started, finished, attempts
      FROM node_runs WHERE run_id = ?1 ORDER BY rowid)sql");
    st.bind(1, run_id);
    std::vector<NodeRunRecord> out;
    while (st.step()) {
      NodeRunRecord& r = out.emplace_back();
      r.run_id = st.text(0);
      r.node = st.text(1);
      r.cache_key = st.text(2);
      r.plugin = st.text(3);
      r.plugin_version = st.text(4);
      r.status = st.text(5);
      r.reason = st.text(6);
      r.log_path = st.text(7);
      r.artifact_path = st.text(8);
      r.exit_code = st.optional_int(9);
      r.signal = st.optional_int(10);
      r.started = st.real(11);
      r.finished = st.real(12);
      r.attempts = static_cast<int>(st.int64(13));
    }
    return out;
  });
}

std::map<std::string, Json> Registry::params(const std::string& run_id) const {
  return impl_->read("params of " + run_id, [&] {
    Statement st(impl_->db(), "SELECT key, value_type, value_text FROM params WHERE run_id = ?1");
    st.bind(1, run_id);
    std::map<std::string, Json> out;
    while (st.step()) out[st.text(0)] = detail::decode_param(st.text(1), st.text(2));
    return out;
  });
}

std::map<std::string, double> Registry::summaries(const std::string& cache_key) const {
  return impl_->read("summaries of " + cache_key, [&] {
    Statement st(impl_->db(), "SELECT key, value FROM summaries WHERE cache_key = ?1");
    st.bind(1, cache_key);
    std::map<std::string, double> out;
    while (st.step()) out[st.text(0)] = value_or_nan(st, 1);
    return out;
  });
}

std::vector<MetricPoint> Registry::metrics(const std::string& cache_key, const std::vector<std::string>& keys) const {
  return impl_->read("metrics of " + cache_key, [&] {
    std::vector<MetricPoint> out;
    auto collect = [&](Statement& st) {
      while (st.step()) {
        out.push_back(MetricPoint{cache_key, st.int64(0), st.text(1), value_or_nan(st, 2), st.real(3)});
      }
    };
    if (keys.empty()) {
      Statement st(impl_->db(),
                   "SELECT step, key, value, time FROM metrics WHERE cache_key = ?1 ORDER BY key, step");
      st.bind(1, cache_key);
      collect(st);
      return out;
    }
    Statement st(impl_->db(),
                 "SELECT step, key, value, time FROM metrics WHERE cache_key = ?1 AND key = ?2 ORDER BY step");
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (const std::string& key : sorted) {
      st.bind(1, cache_key).bind(2, key);
      collect(st);
      st.reset();
    }
    return out;
  });
}

std::optional<SweepRecord> Registry::get_sweep(const std::string& id_or_name) const {
  if (id_or_name.empty()) return std::nullopt;
  return impl_->read("get sweep " + id_or_name, [&]() -> std::optional<SweepRecord> {
    Statement by_id(impl_->db(), fmt::format("SELECT {} FROM sweeps WHERE id = ?1", kSweepColumns));
    by_id.bind(1, id_or_name);
    if (by_id.step()) return sweep_from_row(by_id);
    Statement by_name(impl_->db(), fmt::format("SELECT {} FROM sweeps WHERE name = ?1 "
                                               "ORDER BY created DESC, rowid DESC LIMIT 1",
                                               kSweepColumns));
    by_name.bind(1, id_or_name);
    if (by_name.step()) return sweep_from_row(by_name);
    constexpr size_t kShown = 10;
    std::vector<std::string> ids = ids_with_prefix(impl_->db(), "sweeps", id_or_name, kShown + 1);
    if (ids.empty()) return std::nullopt;
    if (ids.size() > 1) throw_ambiguous(impl_->path, "sweep", id_or_name, ids, kShown);
    by_id.reset();
    by_id.bind(1, ids.front());
    if (!by_id.step()) return std::nullopt;
    return sweep_from_row(by_id);
  });
}

std::vector<SweepRecord> Registry::list_sweeps() const {
  return impl_->read("list sweeps", [&] {
    Statement st(impl_->db(),
                 fmt::format("SELECT {} FROM sweeps ORDER BY created DESC, rowid DESC", kSweepColumns));
    std::vector<SweepRecord> out;
    while (st.step()) out.push_back(sweep_from_row(st));
    return out;
  });
}

}  // namespace mstar::registry
