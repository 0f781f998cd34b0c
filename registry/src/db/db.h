// Private: the registry's database backends behind one connection interface.
// Registry code writes SQL once, in the registry dialect (SQLite's syntax with
// ?N placeholders and the column types of schema_sql.cpp); a backend that
// speaks another dialect translates it (dialect.h), so no statement is
// written twice. Backends: SQLite (embedded, a file) and PostgreSQL (libpq,
// a postgresql:// URL).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mstar::registry::detail {

enum class Backend { Sqlite, Postgres };

class DbError : public std::runtime_error {
 public:
  enum class Kind {
    Other,
    Busy,        // another connection held a lock (or a deadlock was broken): retry the transaction
    ReadOnly,    // the statement would write on a read-only connection
    Refused,     // `registry sql` refused the statement before running it
    CannotOpen,  // no such file, server unreachable, wrong credentials
  };
  DbError(Kind kind, const std::string& message, int code = 0)
      : std::runtime_error(message), kind_(kind), code_(code) {}
  Kind kind() const noexcept { return kind_; }
  bool is_busy() const noexcept { return kind_ == Kind::Busy; }
  int code() const noexcept { return code_; }  // SQLite's extended result code; 0 for PostgreSQL

 private:
  Kind kind_;
  int code_;
};

enum class CellType { Null, Integer, Real, Text, Blob, Bool };

// One prepared statement. Binds are 1-based, columns 0-based.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  // copy false: `value` stays alive and unchanged until the next reset().
  virtual void bind_text(int index, std::string_view value, bool copy) = 0;
  // NaN binds as NULL on every backend: SQLite cannot store NaN, and NULL
  // keeps max()/min() of a series the same everywhere.
  virtual void bind_real(int index, double value) = 0;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;  // true while a row is available
  virtual void reset() noexcept = 0;
  virtual int64_t changes() const = 0;  // rows changed by the last run
  virtual int parameter_count() const = 0;
  // Valid after the first step() (PostgreSQL runs the statement there).
  virtual int column_count() const = 0;
  virtual std::string column_name(int column) const = 0;
  virtual CellType type(int column) const = 0;
  virtual std::string text(int column) const = 0;  // "" for NULL; blobs as x'..' hex
  virtual double real(int column) const = 0;      // 0 for NULL
  virtual int64_t int64(int column) const = 0;     // 0 for NULL; a boolean as 0/1
};

enum class Txn {
  Read,           // a snapshot for reads
  Write,          // the write lock up front (SQLite: BEGIN IMMEDIATE)
  ReadThenWrite,  // read first, write later (SQLite: BEGIN, upgraded on the first write)
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Backend backend() const = 0;
  // A script of registry-dialect statements without parameters.
  virtual void exec(std::string_view script) = 0;
  virtual std::unique_ptr<StatementImpl> prepare(std::string_view sql) = 0;
  // A user's statement for `registry sql`, in the backend's own dialect,
  // guarded so that it cannot write, attach files or change settings
  // (DbError::Refused explains why).
  virtual std::unique_ptr<StatementImpl> prepare_user_query(std::string_view sql) = 0;
  virtual void begin(Txn kind) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual bool in_transaction() const = 0;

  // The registry's tables (none of the backend's own).
  virtual std::vector<std::string> tables() = 0;
  // CREATE statements of tables and indexes, for `registry schema`.
  virtual std::vector<std::string> schema_sql() = 0;
  virtual std::string integrity_check() = 0;  // "ok" when fine
  // Inside the schema transaction: serialise concurrent creators/migrators
  // (PostgreSQL: an advisory lock; SQLite's write lock does it already).
  virtual void lock_schema() {}
  // After creating or migrating the schema (SQLite: planner statistics).
  virtual void after_schema_change() {}
  // Before a migration: a copy of the database; returns where, or "" when
  // the backend keeps none (PostgreSQL migrates in one DDL transaction).
  virtual std::string backup_before_migration(int old_version) = 0;
  // Rows per multi-row INSERT for bulk writes: a round trip per statement
  // is PostgreSQL's cost; SQLite is fastest with one reused statement.
  virtual size_t rows_per_insert() const { return 1; }
  // After inserting rows with explicit rowids (registry copy): the next
  // implicit rowid must follow them (PostgreSQL: the identity sequence).
  virtual void after_explicit_rowids(std::string_view /*table*/) {}
};

// Throws DbError(CannotOpen) or DbError(Busy) while enabling WAL.
std::unique_ptr<Connection> open_sqlite(const std::filesystem::path& file, bool read_only);
std::unique_ptr<Connection> open_postgres(const std::string& url, bool read_only);

// postgresql:// or postgres://
bool is_postgres_url(std::string_view location);
// The URL with any password replaced by "***" (user:pw@ and password=...).
std::string redact_url(std::string_view url);

}  // namespace mstar::registry::detail
