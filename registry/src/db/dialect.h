// Private: the one place where the registry dialect (SQLite's syntax, in
// which every registry statement is written) becomes PostgreSQL's. Pure
// text functions, unit-tested in registry_test.
//
// What differs, and how it is handled:
//   ?N placeholders          -> $N
//   REAL / INTEGER           -> DOUBLE PRECISION / BIGINT (PostgreSQL's REAL is 4 bytes)
//   TEXT                     -> TEXT COLLATE "C": bytewise order and comparison, as in SQLite
//   rowid (implicit)         -> an explicit `rowid` identity column, so ORDER BY rowid
//                               (insertion order) means the same on both
//   WITHOUT ROWID            -> dropped (PostgreSQL tables have no rowid)
//   ON CONFLICT ... DO UPDATE, excluded.*, coalesce, EXISTS: the same on both
//   NaN                      -> bound as NULL on both (see StatementImpl::bind_real)
//   PRAGMAs, sqlite_schema, planner statistics, backups: Connection methods
// Literals ('...', "...") and comments are copied untouched.
#pragma once

#include <string>
#include <string_view>

namespace mstar::registry::detail::dialect {

// `numbered_only`: leave a bare `?` alone (in a user's statement it is
// PostgreSQL's jsonb operator).
std::string postgres_placeholders(std::string_view sql, bool numbered_only = false);
// A DDL script (CREATE TABLE/INDEX, ALTER TABLE, INSERT) for PostgreSQL;
// placeholders are translated too.
std::string postgres_ddl(std::string_view script);
// The highest $N in PostgreSQL SQL.
int postgres_parameter_count(std::string_view sql);

}  // namespace mstar::registry::detail::dialect
