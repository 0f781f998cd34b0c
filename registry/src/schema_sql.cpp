// The DDL of every schema version. Never edit a released version: add a
// migration to kMigrations and bump kSchemaVersion in schema.h.
#include "schema_sql.h"

#include <iterator>

#include "mstar/registry/schema.h"

namespace mstar::registry {

namespace {

constexpr std::string_view kV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('schema_version', '1');

CREATE TABLE sweeps (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL DEFAULT '',
  config_json TEXT NOT NULL DEFAULT '{}',
  created     REAL NOT NULL,
  updated     REAL NOT NULL
);
CREATE INDEX sweeps_name ON sweeps(name, created);

CREATE TABLE runs (
  id          TEXT PRIMARY KEY,
  sweep_id    TEXT NULL REFERENCES sweeps(id) ON DELETE SET NULL,
  name        TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL
              CHECK (status IN ('pending', 'running', 'done', 'failed', 'interrupted')),
  created     REAL NOT NULL,
  started     REAL NULL,
  finished    REAL NULL,
  seed        INTEGER NOT NULL DEFAULT 0,
  config_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX runs_sweep ON runs(sweep_id, created);
CREATE INDEX runs_created ON runs(created);

CREATE TABLE params (
  run_id     TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value_type TEXT NOT NULL
             CHECK (value_type IN ('string', 'number', 'bool', 'null', 'array', 'object')),
  value_text TEXT NOT NULL,
  value_num  REAL NULL,
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX params_key_num ON params(key, value_num);
CREATE INDEX params_key_text ON params(key, value_text);

CREATE TABLE node_runs (
  run_id         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  node           TEXT NOT NULL,
  cache_key      TEXT NOT NULL,
  plugin         TEXT NOT NULL DEFAULT '',
  plugin_version TEXT NOT NULL DEFAULT '',
  status         TEXT NOT NULL
                 CHECK (status IN ('pending', 'running', 'done', 'cached', 'failed', 'skipped', 'interrupted')),
  exit_code      INTEGER NULL,
  signal         INTEGER NULL,
  reason         TEXT NOT NULL DEFAULT '',
  log_path       TEXT NOT NULL DEFAULT '',
  artifact_path  TEXT NOT NULL DEFAULT '',
  started        REAL NULL,
  finished       REAL NULL,
  PRIMARY KEY (run_id, node)
);
CREATE INDEX node_runs_cache_key ON node_runs(cache_key);

CREATE TABLE metrics (
  cache_key TEXT NOT NULL,
  step      INTEGER NOT NULL,
  key       TEXT NOT NULL,
  value     REAL NULL,  -- NULL is NaN (SQLite stores NaN as NULL)
  time      REAL NOT NULL,
  PRIMARY KEY (cache_key, key, step)
) WITHOUT ROWID;

CREATE TABLE summaries (
  cache_key TEXT NOT NULL,
  key       TEXT NOT NULL,
  value     REAL NULL,  -- NULL is NaN
  PRIMARY KEY (cache_key, key)
) WITHOUT ROWID;
CREATE INDEX summaries_key ON summaries(key, value);
)sql";

// kMigrations[i] takes a database from version i + 1 to i + 2. The version
// row is updated by the caller in the same transaction.
constexpr std::string_view kMigrations[] = {
    // v1 -> v2: the run's environment and failure reason, and node attempts.
    R"sql(
ALTER TABLE runs ADD COLUMN env_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE node_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
)sql",
};

static_assert(std::size(kMigrations) == kSchemaVersion - 1, "one migration per version after 1");

}  // namespace

std::string_view schema_v1_sql() { return kV1; }

std::string_view migration_sql(int from_version) { return kMigrations[from_version - 1]; }

}  // namespace mstar::registry
