// Opening a database: pragmas, then create / migrate / check the schema.
#include <algorithm>
#include <string>
#include <vector>

#include "impl.h"
#include "mstar/registry/schema.h"
#include "schema_sql.h"

namespace mstar::registry {

namespace {

using detail::Statement;

constexpr int kNotARegistry = -1;

// 0 for an empty database, kNotARegistry for one with other tables.
int stored_version(detail::Connection& db) {
  const std::vector<std::string> tables = db.tables();
  if (tables.empty()) return 0;
  if (std::find(tables.begin(), tables.end(), "meta") == tables.end()) return kNotARegistry;
  Statement meta(db, "SELECT value FROM meta WHERE key = 'schema_version'");
  if (!meta.step()) return kNotARegistry;
  try {
    return std::stoi(meta.text(0));
  } catch (const std::exception&) {
    return kNotARegistry;
  }
}

void set_stored_version(detail::Connection& db, int version) {
  Statement st(db, "UPDATE meta SET value = ?1 WHERE key = 'schema_version'");
  st.bind(1, std::to_string(version)).run();
}

void migrate(detail::Connection& db, int from) {
  for (int v = from; v < kSchemaVersion; ++v) db.exec(migration_sql(v));
  set_stored_version(db, kSchemaVersion);
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

void Registry::Impl::prepare_schema() {
  if (mode == OpenMode::ReadOnly) {
    version = read("read schema version", [&] { return stored_version(db()); });
    if (version == 0 && db().backend() == detail::Backend::Postgres) {
      throw Error(ErrorCategory::Io,
                  fmt::format("registry {} holds no registry tables yet: expected an mstar registry (schema "
                              "version {}); record a run into it, or fill it with `mstar registry copy`",
                              path.string(), kSchemaVersion));
    }
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
  // Opening an up-to-date database takes no write lock: one read first.
  const int seen = read("read schema version", [&] { return stored_version(db()); });
  if (seen == kNotARegistry) refuse_foreign(path);
  if (seen > kSchemaVersion) refuse_newer(path, seen);
  if (seen == kSchemaVersion) {
    version = seen;
    return;
  }
  if (seen == 0) {
    // Creating: the write lock up front, so that of several processes
    // creating at once the others wait for it (SQLite's busy timeout; a
    // read transaction upgraded to a write one would fail at once instead)
    // and then find the schema made. PostgreSQL: an advisory lock.
    version = transact(Txn::Write, "create schema", [&] {
      db().lock_schema();
      const int found = stored_version(db());
      if (found != 0) return found;
      db().exec(schema_v1_sql());
      migrate(db(), 1);
      db().after_schema_change();
      logger().info("created registry {} (schema version {})", path.string(), kSchemaVersion);
      return kSchemaVersion;
    });
    if (version == kSchemaVersion) return;
  }
  // Migrating: one ReadThenWrite transaction. Of several processes migrating
  // at once, one wins; the others' snapshots go stale, they retry and find
  // it done. The backup must run before the first write: SQLite cannot back
  // up from a connection inside a write transaction. It copies this
  // transaction's snapshot, so it holds exactly what is migrated.
  version = transact(Txn::ReadThenWrite, "migrate schema", [&] {
    db().lock_schema();
    const int found = stored_version(db());
    if (found == kNotARegistry) refuse_foreign(path);
    if (found > kSchemaVersion) refuse_newer(path, found);
    if (found == kSchemaVersion) return found;
    const std::string backup = db().backup_before_migration(found);
    migrate(db(), found);
    db().after_schema_change();
    logger().info("migrated registry {} from schema version {} to {} ({})", path.string(), found, kSchemaVersion,
                  backup.empty() ? "one transaction, no backup file" : "backup: " + backup);
    return kSchemaVersion;
  });
}

}  // namespace mstar::registry
