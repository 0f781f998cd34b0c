// The SQLite backend: one file in WAL mode. Read-only connections are
// SQLITE_OPEN_READONLY with `PRAGMA query_only`.
#include <sqlite3.h>

#include <cmath>

#include <fmt/format.h>

#include "db/db.h"

namespace mstar::registry::detail {

namespace {

constexpr int kBusyTimeoutMs = 10'000;

DbError::Kind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return DbError::Kind::Busy;
    case SQLITE_READONLY: return DbError::Kind::ReadOnly;
    case SQLITE_CANTOPEN: return DbError::Kind::CannotOpen;
    default: return DbError::Kind::Other;
  }
}

void check(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string text = what.empty() ? fmt::format("{} (sqlite code {})", msg, rc)
                                        : fmt::format("{}: {} (sqlite code {})", what, msg, rc);
  throw DbError(kind_of(rc), text, rc);
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql, const char** tail = nullptr) : db_(db) {
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, tail);
    if (rc != SQLITE_OK) check(db, rc, fmt::format("prepare '{}'", sql.substr(0, 200)));
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

  void bind_text(int index, std::string_view value, bool copy) override {
    check(db_, sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                 copy ? SQLITE_TRANSIENT : SQLITE_STATIC), "bind");
  }
  void bind_real(int index, double value) override {
    check(db_, std::isnan(value) ? sqlite3_bind_null(stmt_, index) : sqlite3_bind_double(stmt_, index, value), "bind");
  }
  void bind_int(int index, int64_t value) override { check(db_, sqlite3_bind_int64(stmt_, index, value), "bind"); }
  void bind_null(int index) override { check(db_, sqlite3_bind_null(stmt_, index), "bind"); }
  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      changes_ = sqlite3_changes64(db_);
      return false;
    }
    check(db_, rc, "");
    return false;
  }
  void reset() noexcept override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t changes() const override { return changes_; }
  int parameter_count() const override { return sqlite3_bind_parameter_count(stmt_); }
  int column_count() const override { return sqlite3_column_count(stmt_); }
  std::string column_name(int column) const override { return sqlite3_column_name(stmt_, column); }
  CellType type(int column) const override {
    switch (sqlite3_column_type(stmt_, column)) {
      case SQLITE_INTEGER: return CellType::Integer;
      case SQLITE_FLOAT: return CellType::Real;
      case SQLITE_TEXT: return CellType::Text;
      case SQLITE_BLOB: return CellType::Blob;
      default: return CellType::Null;
    }
  }
  std::string text(int column) const override {
    if (type(column) == CellType::Blob) {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, column));
      std::string hex = "x'";
      for (int i = 0; i < sqlite3_column_bytes(stmt_, column); ++i) hex += fmt::format("{:02x}", p[i]);
      return hex + "'";
    }
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    if (!p) return {};
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }
  double real(int column) const override { return sqlite3_column_double(stmt_, column); }
  int64_t int64(int column) const override { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int64_t changes_ = 0;
};

// ---- `registry sql`: an authorizer refuses ATTACH, transactions and
// pragmas that change settings; sqlite3_stmt_readonly() refuses writes.

struct AuthState {
  std::string refused;  // why the authorizer said no
};

bool allowed_pragma_with_argument(std::string_view name) {
  for (std::string_view ok : {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                              "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check"})
    if (name == ok) return true;
  return false;
}

int authorize(void* user, int action, const char* a1, const char* a2, const char*, const char*) {
  auto* state = static_cast<AuthState*>(user);
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      state->refused = "ATTACH/DETACH are refused: only the registry itself can be queried";
      return SQLITE_DENY;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      state->refused = "transaction statements are refused: each statement runs on its own";
      return SQLITE_DENY;
    case SQLITE_PRAGMA:
      if (a2 && !allowed_pragma_with_argument(a1 ? a1 : "")) {
        state->refused = fmt::format("PRAGMA {} with an argument is refused: settings can not be changed", a1 ? a1 : "");
        return SQLITE_DENY;
      }
      return SQLITE_OK;
    default: return SQLITE_OK;
  }
}

// Only whitespace, semicolons and comments left after the statement?
bool only_trailing(std::string_view rest) {
  size_t i = 0;
  while (i < rest.size()) {
    const char c = rest[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == ';') {
      ++i;
    } else if (rest.substr(i, 2) == "--") {
      i = rest.find('\n', i);
      if (i == std::string_view::npos) return true;
    } else if (rest.substr(i, 2) == "/*") {
      i = rest.find("*/", i + 2);
      if (i == std::string_view::npos) return true;
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(std::filesystem::path file, bool read_only) : file_(std::move(file)) {
    const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    const int rc = sqlite3_open_v2(file_.c_str(), &db_, flags | SQLITE_OPEN_EXRESCODE, nullptr);
    if (rc != SQLITE_OK) {
      const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw DbError(kind_of(rc) == DbError::Kind::Busy ? DbError::Kind::Busy : DbError::Kind::CannotOpen,
                    fmt::format("cannot open: {} (sqlite code {})", msg, rc), rc);
    }
    try {
      configure(read_only);
    } catch (...) {
      sqlite3_close_v2(db_);  // the destructor does not run for a throwing constructor
      throw;
    }
  }
  ~SqliteConnection() override { sqlite3_close_v2(db_); }

  Backend backend() const override { return Backend::Sqlite; }
  void exec(std::string_view script) override {
    const std::string sql(script);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return;
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw DbError(kind_of(rc), fmt::format("'{}': {} (sqlite code {})", script.substr(0, 60), msg, rc), rc);
  }
  std::unique_ptr<StatementImpl> prepare(std::string_view sql) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  std::unique_ptr<StatementImpl> prepare_user_query(std::string_view sql) override;
  void begin(Txn kind) override { exec(kind == Txn::Write ? "BEGIN IMMEDIATE" : "BEGIN"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool in_transaction() const override { return !sqlite3_get_autocommit(db_); }

  std::vector<std::string> tables() override {
    return column0("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  }
  std::vector<std::string> schema_sql() override {
    return column0("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
  }
  std::string integrity_check() override {
    std::string out;
    for (const std::string& line : column0("PRAGMA integrity_check")) out += (out.empty() ? "" : "\n") + line;
    return out;
  }
  void after_schema_change() override;
  std::string backup_before_migration(int old_version) override;

 private:
  void configure(bool read_only) {
    check(db_, sqlite3_busy_timeout(db_, kBusyTimeoutMs), "busy_timeout");
    // Scans of large metric tables read pages straight from the OS cache.
    exec("PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -65536");
    if (read_only) {
      exec("PRAGMA query_only = ON");
      return;
    }
    // Switching to WAL needs a lock: a fresh database opened by several
    // processes at once may report busy here (the caller retries).
    SqliteStatement wal(db_, "PRAGMA journal_mode = WAL");
    wal.step();
    if (wal.text(0) != "wal")
      throw DbError(DbError::Kind::Other, "cannot enable WAL (journal_mode is " + wal.text(0) + ")");
    // NORMAL is durable across process crashes in WAL mode; only a power
    // loss may lose the last transactions, never consistency.
    exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON");
  }

  std::vector<std::string> column0(const char* sql) {
    SqliteStatement st(db_, sql);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
  }

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
};

std::unique_ptr<StatementImpl> SqliteConnection::prepare_user_query(std::string_view sql) {
  AuthState auth;
  sqlite3_set_authorizer(db_, authorize, &auth);
  std::unique_ptr<SqliteStatement> st;
  const char* tail = nullptr;
  try {
    st = std::make_unique<SqliteStatement>(db_, sql, &tail);
  } catch (const DbError& e) {
    sqlite3_set_authorizer(db_, nullptr, nullptr);
    if (!auth.refused.empty()) throw DbError(DbError::Kind::Refused, auth.refused);
    throw DbError(DbError::Kind::Refused, sqlite3_errmsg(db_));
  }
  sqlite3_set_authorizer(db_, nullptr, nullptr);
  if (!st->get()) throw DbError(DbError::Kind::Refused, "no SQL statement given");
  if (tail && !only_trailing(std::string_view(tail, sql.data() + sql.size() - tail)))
    throw DbError(DbError::Kind::Refused, "one statement at a time (found more after the first ';')");
  if (!sqlite3_stmt_readonly(st->get()))
    throw DbError(DbError::Kind::ReadOnly,
                  fmt::format("the statement would modify the registry ({})", sql.substr(0, 80)));
  return st;
}

// The metrics table has no (key, step) index: its inserts would scatter over
// the whole index and cost 10x ingest speed. Instead, statistics tell the
// planner that each cache_key holds many rows, so that `WHERE key = ? AND
// step = ?` skip-scans the primary key (one seek per cache_key). A real
// ANALYZE later replaces them; see docs/registry.md.
void SqliteConnection::after_schema_change() {
  if (column0("SELECT name FROM sqlite_schema WHERE name = 'sqlite_stat1'").empty()) {
    exec("ANALYZE sqlite_schema");  // creates sqlite_stat1
  } else if (!column0("SELECT tbl FROM sqlite_stat1 WHERE tbl = 'metrics'").empty()) {
    return;
  }
  exec("INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('metrics', 'metrics', '1000000 10000 1000 1')");
  exec("ANALYZE sqlite_schema");  // reloads the statistics
}

// SQLite cannot back up from a connection inside a write transaction: this
// runs before the migration's first write and copies its snapshot.
std::string SqliteConnection::backup_before_migration(int old_version) {
  std::filesystem::path to = file_;
  to += fmt::format(".bak-v{}", old_version);
  sqlite3* dest = nullptr;
  const int open_rc = sqlite3_open_v2(to.c_str(), &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  struct Closer {
    sqlite3* db;
    ~Closer() { sqlite3_close_v2(db); }
  } closer{dest};
  check(dest, open_rc, fmt::format("backup to {}", to.string()));
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", db_, "main");
  if (!backup) check(dest, sqlite3_errcode(dest), fmt::format("backup to {}", to.string()));
  const int step_rc = sqlite3_backup_step(backup, -1);
  const int finish_rc = sqlite3_backup_finish(backup);
  if (step_rc != SQLITE_DONE) check(dest, step_rc, fmt::format("backup to {}", to.string()));
  check(dest, finish_rc, fmt::format("backup to {}", to.string()));
  return to.string();
}

}  // namespace

std::unique_ptr<Connection> open_sqlite(const std::filesystem::path& file, bool read_only) {
  return std::make_unique<SqliteConnection>(file, read_only);
}

}  // namespace mstar::registry::detail
