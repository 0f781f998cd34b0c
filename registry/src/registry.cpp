// Opening the registry and the write side. Each write is one short
// transaction through Impl::write (BEGIN IMMEDIATE, retried on busy), or
// joins the batch() its thread is running.
#include "mstar/registry/registry.h"

#include <algorithm>
#include <optional>
#include <system_error>
#include <unordered_set>

#include "impl.h"
#include "values.h"

namespace mstar::registry {

namespace fs = std::filesystem;
using detail::Statement;

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Registry::~Registry() = default;

std::unique_ptr<Registry> Registry::open(const fs::path& db, OpenMode mode) {
  const std::string location = db.string();
  const bool postgres = detail::is_postgres_url(location);
  const fs::path shown = postgres ? fs::path(detail::redact_url(location)) : db;
  const bool read_only = mode == OpenMode::ReadOnly;
  try {
    if (!postgres && read_only && !fs::exists(db)) {
      throw Error(ErrorCategory::Io, fmt::format("registry database {} does not exist", db.string()));
    }
    if (!postgres && !read_only && db.has_parent_path()) {
      std::error_code ec;
      fs::create_directories(db.parent_path(), ec);
      if (ec) {
        throw Error(ErrorCategory::Io, fmt::format("registry {}: cannot create directory {}: {}", db.string(),
                                                   db.parent_path().string(), ec.message()));
      }
    }
    // A fresh SQLite file opened by several processes at once may report
    // busy while switching to WAL: retried like any transaction.
    auto conn = detail::retry_busy(shown, "open", [&] {
      return postgres ? detail::open_postgres(location, read_only) : detail::open_sqlite(db, read_only);
    });
    auto impl = std::make_unique<Impl>(shown, mode, std::move(conn));
    impl->prepare_schema();
    logger().debug("opened registry {} ({}, schema version {})", shown.string(),
                   read_only ? "read-only" : "read-write", impl->version);
    return std::unique_ptr<Registry>(new Registry(std::move(impl)));
  } catch (const Error& e) {
    if (e.category() != ErrorCategory::Io || !postgres) throw;
    const std::string msg = e.what();
    if (msg.find("cannot connect") == std::string::npos) throw;
    throw Error(ErrorCategory::Io,
                msg + "; expected a reachable PostgreSQL server and a role that may connect to that database "
                      "(check host, port, user, password and database in the URL, or MSTAR_REGISTRY)");
  } catch (const detail::DbError& e) {
    const bool cannot_write = !postgres && !read_only &&
                              (e.kind() == detail::DbError::Kind::CannotOpen || e.kind() == detail::DbError::Kind::ReadOnly);
    throw Error(ErrorCategory::Io,
                fmt::format("registry {}: {}{}", shown.string(), e.what(),
                            cannot_write ? "; recording needs the file and its folder writable (SQLite's WAL mode "
                                           "writes -wal and -shm files beside it): check permissions, a read-only "
                                           "mount or free space, or give another registry with --registry"
                                         : ""));
  }
}

const fs::path& Registry::path() const { return impl_->path; }
OpenMode Registry::mode() const { return impl_->mode; }
int Registry::schema_version() const { return impl_->version; }
bool Registry::is_postgres() const { return impl_->db().backend() == detail::Backend::Postgres; }

void Registry::upsert_sweep(const SweepRecord& sweep) {
  impl_->write("upsert sweep " + sweep.id, [&] {
    const double now = detail::now_seconds();
    Statement st(impl_->db(), R"sql(
      INSERT INTO sweeps(id, name, config_json, created, updated) VALUES (?1, ?2, ?3, ?4, ?5)
      ON CONFLICT(id) DO UPDATE SET name = excluded.name, config_json = excluded.config_json,
                                    updated = excluded.updated)sql");
    st.bind(1, sweep.id).bind(2, sweep.name).bind(3, detail::json_text(sweep.config));
    st.bind(4, sweep.created != 0 ? sweep.created : now).bind(5, sweep.updated != 0 ? sweep.updated : now);
    st.run();
  });
}

void Registry::upsert_run(const RunRecord& run) {
  detail::require_run_status(run.status);
  impl_->write("upsert run " + run.id, [&] {
    Statement st(impl_->db(), R"sql(
      INSERT INTO runs(id, sweep_id, name, status, created, started, finished, seed, config_json,
                       env_json, reason)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
      ON CONFLICT(id) DO UPDATE SET
        sweep_id = excluded.sweep_id, name = excluded.name, status = excluded.status,
        started = excluded.started, finished = excluded.finished, seed = excluded.seed,
        config_json = excluded.config_json, env_json = excluded.env_json, reason = excluded.reason)sql");
    st.bind(1, run.id).bind_text_or_null(2, run.sweep_id).bind(3, run.name).bind(4, run.status);
    st.bind(5, run.created != 0 ? run.created : detail::now_seconds());
    st.bind_time_or_null(6, run.started).bind_time_or_null(7, run.finished).bind(8, run.seed);
    st.bind(9, detail::json_text(run.config)).bind(10, detail::json_text(run.env)).bind(11, run.reason);
    st.run();
  });
}

void Registry::set_run_status(const std::string& run_id, const std::string& status, const std::string& reason,
                              double finished) {
  detail::require_run_status(status);
  impl_->write("set status of run " + run_id, [&] {
    Statement st(impl_->db(), R"sql(
      UPDATE runs SET status = ?2, reason = ?3, finished = coalesce(?4, finished) WHERE id = ?1)sql");
    st.bind(1, run_id).bind(2, status).bind(3, reason).bind_time_or_null(4, finished);
    st.run();
    if (st.changes() == 0) {
      throw Error(ErrorCategory::Io, fmt::format("registry {}: no run '{}'", impl_->path.string(), run_id));
    }
  });
}

void Registry::set_params(const std::string& run_id, const std::map<std::string, Json>& flat) {
  impl_->write("set params of run " + run_id, [&] {
    Statement clear(impl_->db(), "DELETE FROM params WHERE run_id = ?1");
    clear.bind(1, run_id).run();
    Statement insert(impl_->db(), R"sql(
      INSERT INTO params(run_id, key, value_type, value_text, value_num) VALUES (?1, ?2, ?3, ?4, ?5))sql");
    for (const auto& [key, value] : flat) {
      const detail::ParamColumns cols = detail::encode_param(value);
      insert.bind(1, run_id).bind(2, key).bind(3, cols.type).bind(4, cols.text);
      if (cols.num) {
        insert.bind(5, *cols.num);
      } else {
        insert.bind_null(5);
      }
      insert.run();
      insert.reset();
    }
  });
}

void Registry::upsert_node_run(const NodeRunRecord& nr) {
  detail::require_node_status(nr.status);
  impl_->write("upsert node run " + nr.run_id + "/" + nr.node, [&] {
    Statement st(impl_->db(), R"sql(
      INSERT INTO node_runs(run_id, node, cache_key, plugin, plugin_version, status, exit_code, signal,
                            reason, log_path, artifact_path, started, finished, attempts)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
      ON CONFLICT(run_id, node) DO UPDATE SET
        cache_key = excluded.cache_key, plugin = excluded.plugin, plugin_version = excluded.plugin_version,
        status = excluded.status, exit_code = excluded.exit_code, signal = excluded.signal,
        reason = excluded.reason, log_path = excluded.log_path, artifact_path = excluded.artifact_path,
        started = excluded.started, finished = excluded.finished, attempts = excluded.attempts)sql");
    st.bind(1, nr.run_id).bind(2, nr.node).bind(3, nr.cache_key).bind(4, nr.plugin).bind(5, nr.plugin_version);
    st.bind(6, nr.status).bind(7, nr.exit_code).bind(8, nr.signal).bind(9, nr.reason).bind(10, nr.log_path);
    st.bind(11, nr.artifact_path).bind_time_or_null(12, nr.started).bind_time_or_null(13, nr.finished);
    st.bind(14, nr.attempts);
    st.run();
  });
}

void Registry::append_metrics(const std::vector<MetricPoint>& points) {
  if (points.empty()) return;
  const size_t per_statement = impl_->db().rows_per_insert();
  // A point repeated within the batch: the last one wins, as if written one
  // by one. (PostgreSQL refuses one statement that upserts a row twice.)
  std::vector<const MetricPoint*> kept;
  kept.reserve(points.size());
  if (per_statement == 1) {
    for (const MetricPoint& p : points) kept.push_back(&p);
  } else {
    struct Hash {
      size_t operator()(const MetricPoint* p) const {
        const size_t h = std::hash<std::string_view>{}(p->cache_key) * 31 + std::hash<std::string_view>{}(p->key);
        return h * 31 + std::hash<int64_t>{}(p->step);
      }
    };
    struct Same {
      bool operator()(const MetricPoint* a, const MetricPoint* b) const {
        return a->step == b->step && a->key == b->key && a->cache_key == b->cache_key;
      }
    };
    std::unordered_set<const MetricPoint*, Hash, Same> seen(points.size());
    for (auto it = points.rbegin(); it != points.rend(); ++it)
      if (seen.insert(&*it).second) kept.push_back(&*it);
    std::reverse(kept.begin(), kept.end());
  }
  // PostgreSQL: many rows per statement, one round trip each.
  const size_t kRowsPerStatement = per_statement;
  auto insert_sql = [](size_t rows) {
    std::string sql = "INSERT INTO metrics(cache_key, step, key, value, time) VALUES ";
    for (size_t r = 0; r < rows; ++r)
      sql += fmt::format("{}(?{}, ?{}, ?{}, ?{}, ?{})", r ? ", " : "", 5 * r + 1, 5 * r + 2, 5 * r + 3, 5 * r + 4,
                         5 * r + 5);
    // An upsert, not INSERT OR REPLACE: REPLACE deletes and re-inserts.
    return sql + " ON CONFLICT(cache_key, key, step) DO UPDATE SET value = excluded.value, time = excluded.time";
  };
  impl_->write(fmt::format("append {} metric points", points.size()), [&] {
    std::optional<Statement> full;
    for (size_t first = 0; first < kept.size(); first += kRowsPerStatement) {
      const size_t rows = std::min(kRowsPerStatement, kept.size() - first);
      std::optional<Statement> tail;
      if (rows == kRowsPerStatement && !full) full.emplace(impl_->db(), insert_sql(rows));
      if (rows != kRowsPerStatement) tail.emplace(impl_->db(), insert_sql(rows));
      Statement& st = rows == kRowsPerStatement ? *full : *tail;
      for (size_t r = 0; r < rows; ++r) {  // `points` outlives each step: no copies
        const MetricPoint& p = *kept[first + r];
        const int base = static_cast<int>(5 * r);
        st.bind_static(base + 1, p.cache_key).bind(base + 2, p.step).bind_static(base + 3, p.key);
        st.bind(base + 4, p.value).bind(base + 5, p.time);
      }
      st.run();
      st.reset();
    }
  });
}

void Registry::set_summaries(const std::string& cache_key, const std::map<std::string, double>& values) {
  impl_->write("set summaries of " + cache_key, [&] {
    Statement clear(impl_->db(), "DELETE FROM summaries WHERE cache_key = ?1");
    clear.bind(1, cache_key).run();
    Statement insert(impl_->db(), "INSERT INTO summaries(cache_key, key, value) VALUES (?1, ?2, ?3)");
    for (const auto& [key, value] : values) {
      insert.bind(1, cache_key).bind(2, key).bind(3, value);
      insert.run();
      insert.reset();
    }
  });
}

void Registry::batch(std::string_view what, const std::function<void()>& writes) {
  if (impl_->batch_thread == std::this_thread::get_id()) return writes();
  impl_->write(what, [&] {
    impl_->batch_thread = std::this_thread::get_id();
    struct Reset {
      Impl& impl;
      ~Reset() { impl.batch_thread = std::thread::id(); }
    } reset{*impl_};
    writes();
  });
}

std::string Registry::integrity_check() const {
  return impl_->read("integrity check", [&] { return impl_->db().integrity_check(); });
}

std::vector<std::string> Registry::schema_sql() const {
  return impl_->read("read the schema", [&] { return impl_->db().schema_sql(); });
}

}  // namespace mstar::registry
