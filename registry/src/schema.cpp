// Opening a database: pragmas, then create / migrate / check the schema.
#include <string>

#include "impl.h"
#include "mstar/registry/schema.h"
#include "schema_sql.h"

namespace mstar::registry {

namespace {

using detail::Statement;

constexpr int kNotARegistry = -1;

// 0 for an empty database, kNotARegistry for one with other tables.
int stored_version(sqlite3* db) {
  Statement tables(db, "SELECT count(*), sum(name = 'meta') FROM sqlite_master WHERE type = 'table'");
  tables.step();
  if (tables.int64(0) == 0) return 0;
  if (tables.int64(1) == 0) return kNotARegistry;
  Statement meta(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!meta.step()) return kNotARegistry;
  try {
    return std::stoi(meta.text(0));
  } catch (const std::exception&) {
    return kNotARegistry;
  }
}

void set_stored_version(sqlite3* db, int version) {
  Statement st(db, "UPDATE meta SET value = ?1 WHERE key = 'schema_version'");
  st.bind(1, std::to_string(version)).run();
}

void migrate(sqlite3* db, int from) {
  for (int v = from; v < kSchemaVersion; ++v) detail::exec(db, std::string(migration_sql(v)).c_str());
  set_stored_version(db, kSchemaVersion);
}

// The metrics table has no (key, step) index: its inserts would scatter over
// the whole index and cost 10x ingest speed. Instead, statistics tell the
// planner that each cache_key holds many rows, so that `WHERE key = ? AND
// step = ?` skip-scans the primary key (one seek per cache_key). A real
// ANALYZE later replaces them; see docs/registry.md.
void plant_planner_stats(sqlite3* db) {
  Statement has_stat(db, "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'");
  has_stat.step();
  if (has_stat.int64(0) != 0) {
    Statement rows(db, "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'metrics'");
    rows.step();
    if (rows.int64(0) != 0) return;
  } else {
    detail::exec(db, "ANALYZE sqlite_schema");  // creates sqlite_stat1
  }
  detail::exec(db, "INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('metrics', 'metrics', '1000000 10000 1000 1')");
  detail::exec(db, "ANALYZE sqlite_schema");  // reloads the statistics
}

[[noreturn]] void refuse_newer(const std::filesystem::path& path, int version) {
  throw Error(ErrorCategory::Io, fmt::format("registry {} has schema version {}, but this mstar knows only "
                                             "versions up to {}: use a newer mstar to open it",
                                             path.string(), version, kSchemaVersion));
}

[[noreturn]] void refuse_foreign(const std::filesystem::path& path) {
  throw Error(ErrorCategory::Io,
              fmt::format("{} is not an mstar registry (no meta.schema_version); refusing to touch it",
                          path.string()));
}

}  // namespace

void Registry::Impl::configure() {
  detail::check(db(), sqlite3_busy_timeout(db(), detail::kBusyTimeoutMs), "busy_timeout");
  // Scans of large metric tables read pages straight from the OS cache.
  detail::exec(db(), "PRAGMA mmap_size = 1073741824");
  detail::exec(db(), "PRAGMA cache_size = -65536");
  if (mode == OpenMode::ReadOnly) {
    detail::exec(db(), "PRAGMA query_only = ON");
    return;
  }
  // Switching to WAL needs a lock; a fresh database opened by several
  // processes at once may report busy here.
  detail::retry_busy(path, "enable WAL", [&] {
    Statement wal(db(), "PRAGMA journal_mode = WAL");
    wal.step();
    const std::string journal = wal.text(0);
    if (journal != "wal") {
      throw Error(ErrorCategory::Io,
                  fmt::format("registry {}: cannot enable WAL (journal_mode is {})", path.string(), journal));
    }
  });
  // NORMAL is durable across process crashes in WAL mode; only a power loss
  // may lose the last transactions, never consistency.
  detail::exec(db(), "PRAGMA synchronous = NORMAL");
  detail::exec(db(), "PRAGMA foreign_keys = ON");
}

void Registry::Impl::prepare_schema() {
  if (mode == OpenMode::ReadOnly) {
    version = read("read schema version", [&] { return stored_version(db()); });
    if (version <= 0) refuse_foreign(path);
    if (version > kSchemaVersion) refuse_newer(path, version);
    if (version < kSchemaVersion) {
      throw Error(ErrorCategory::Io,
                  fmt::format("registry {} has schema version {}; open it read-write once (any mstar run) "
                              "to migrate it to version {}",
                              path.string(), version, kSchemaVersion));
    }
    return;
  }
  // One ReadThenWrite transaction: opening an up-to-date database takes no
  // write lock. Of several processes creating or migrating at once, one
  // wins; the others' snapshots go stale, they retry and find it done. The
  // backup must run before the first write: SQLite cannot back up from a
  // connection inside a write transaction. It copies this transaction's
  // snapshot, so it holds exactly what is migrated.
  version = transact(Txn::ReadThenWrite, "prepare schema", [&] {
    const int found = stored_version(db());
    if (found == kNotARegistry) refuse_foreign(path);
    if (found > kSchemaVersion) refuse_newer(path, found);
    if (found == kSchemaVersion) return found;
    if (found == 0) {
      detail::exec(db(), std::string(schema_v1_sql()).c_str());
      migrate(db(), 1);
      plant_planner_stats(db());
      logger().info("created registry {} (schema version {})", path.string(), kSchemaVersion);
      return kSchemaVersion;
    }
    std::filesystem::path backup = path;
    backup += fmt::format(".bak-v{}", found);
    detail::backup_database(db(), backup);
    migrate(db(), found);
    plant_planner_stats(db());
    logger().info("migrated registry {} from schema version {} to {} (backup: {})", path.string(), found,
               kSchemaVersion, backup.string());
    return kSchemaVersion;
  });
}

}  // namespace mstar::registry
