// The results registry: sweeps, runs (trials), flattened params, node runs,
// metric series and summaries in one database: an SQLite file (WAL mode,
// the default) or a PostgreSQL database named by a postgresql:// URL.
//
// Writers: each write method is one short transaction (BEGIN IMMEDIATE),
// or part of one batch() of several,
// retried with backoff when another process holds the write lock. The host is
// meant to be the single writer, but several writer processes are safe.
// Readers: open with OpenMode::ReadOnly; they never block writers (WAL).
//
// A Registry is one connection guarded by a mutex: its methods may be called
// from several threads, but each call waits for the previous one. Every
// failure throws mstar::Error naming the database file (or the URL, without
// its password).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/json.h"
#include "mstar/registry/records.h"

namespace mstar::registry {

namespace detail {
struct RegistryAccess;
}

enum class OpenMode { ReadWrite, ReadOnly };

class Registry {
 public:
  // ReadWrite creates missing parent directories and the database, and
  // migrates an older schema in place (after a backup `<db>.bak-v<old>`).
  // ReadOnly needs an existing database at the current schema version.
  // Throws Error(Io) naming the file: missing (ReadOnly), not a registry,
  // written by a newer mstar, or not openable.
  // `db` may be a postgresql:// (or postgres://) URL in libpq's form,
  // e.g. postgresql://user:pw@host:5432/mstar or postgresql:///mstar?host=/run/pg:
  // the same schema in the connection's current schema, migrated in one
  // transaction (no backup file); unreachable servers and refused
  // credentials throw Error(Io) naming the URL without its password.
  static std::unique_ptr<Registry> open(const std::filesystem::path& db, OpenMode mode);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The file, or the URL with its password replaced by ***.
  const std::filesystem::path& path() const;
  bool is_postgres() const;
  OpenMode mode() const;
  int schema_version() const;

  // --- writes: one transaction each; Error(Io) on failure, Error(BadInput)
  // for a status outside kRunStatuses / kNodeStatuses. Foreign keys are on:
  // write the sweep before its runs, and a run before its params/node runs.
  void upsert_sweep(const SweepRecord& sweep);  // `created` kept from the first write
  void upsert_run(const RunRecord& run);        // all columns but `created` (kept from the first write)
  // `finished` 0 leaves the column as it is. Error(Io) for an unknown run.
  void set_run_status(const std::string& run_id, const std::string& status, const std::string& reason,
                      double finished);
  // Replaces all params of the run; keys are flattened (see flatten_params).
  void set_params(const std::string& run_id, const std::map<std::string, Json>& flat);
  void upsert_node_run(const NodeRunRecord& node_run);
  // One transaction (PostgreSQL: 200 points per statement). A point with the same
  // (cache_key, key, step) as a stored one (or a later one in `points`)
  // replaces it: re-ingesting a metrics file creates no duplicates.
  void append_metrics(const std::vector<MetricPoint>& points);
  // Replaces all summaries of the node instance.
  void set_summaries(const std::string& cache_key, const std::map<std::string, double>& values);

  // Runs `writes` (calls of the write methods above) as one transaction: all
  // or none of them land, and a large sweep's records cost one commit rather
  // than one each. Retried as a whole when another writer holds the lock, so
  // `writes` must be repeatable: it should only call the write methods. Only
  // the calling thread's writes join the batch; nested batches join the outer.
  void batch(std::string_view what, const std::function<void()>& writes);

  // --- reads
  bool has_metrics(const std::string& cache_key) const;  // any metric point or summary
  std::vector<RunRecord> list_runs(const std::string& sweep_id_or_empty = "") const;  // newest first
  // Exact id, else a unique id prefix (like git). An ambiguous prefix throws
  // Error(BadInput) listing the candidates.
  std::optional<RunRecord> get_run(const std::string& id_or_unique_prefix) const;
  std::vector<NodeRunRecord> node_runs(const std::string& run_id) const;  // in insertion order
  std::map<std::string, Json> params(const std::string& run_id) const;
  std::map<std::string, double> summaries(const std::string& cache_key) const;
  // Ordered by key then step; `keys` empty means all keys.
  std::vector<MetricPoint> metrics(const std::string& cache_key, const std::vector<std::string>& keys = {}) const;
  // Exact id, else the newest sweep with that name, else a unique id prefix.
  std::optional<SweepRecord> get_sweep(const std::string& id_or_name) const;
  std::vector<SweepRecord> list_sweeps() const;  // newest first
  std::string integrity_check() const;          // "ok" when fine
  // The CREATE statements of the tables and indexes, as the backend has them.
  std::vector<std::string> schema_sql() const;

 private:
  friend struct detail::RegistryAccess;  // the query engine's connection
  struct Impl;
  explicit Registry(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// {"train": {"kl_coef": 0.01, "reward": {"plugin": "reward/tfq"}}} ->
// {"train.kl_coef": 0.01, "train.reward.plugin": "reward/tfq"}. Arrays and
// empty objects stay JSON values; null input gives an empty map; any other
// non-object input throws Error(BadInput).
std::map<std::string, Json> flatten_params(const Json& nested_by_node);

}  // namespace mstar::registry
