#include "sqlite.h"

#include <fmt/core.h>

namespace mstar::registry::detail {

bool SqliteError::is_busy() const noexcept {
  const int primary = code_ & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

void check(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (what.empty()) throw SqliteError(rc, fmt::format("{} (sqlite code {})", msg, rc));
  throw SqliteError(rc, fmt::format("{}: {} (sqlite code {})", what, msg, rc));
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return;
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  std::string_view head(sql);
  if (head.size() > 60) head = head.substr(0, 60);
  throw SqliteError(rc, fmt::format("'{}': {} (sqlite code {})", head, msg, rc));
}

Connection::Connection(const std::filesystem::path& file, int flags) {
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  if (rc == SQLITE_OK) return;
  std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  sqlite3_close(db_);
  db_ = nullptr;
  throw SqliteError(rc, fmt::format("cannot open: {}", msg));
}

Connection::~Connection() {
  if (db_) sqlite3_close_v2(db_);
}

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) check(db, rc, fmt::format("prepare '{}'", sql));
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::string_view value) {
  check(db_, sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT),
        "bind");
  return *this;
}

Statement& Statement::bind_static(int index, std::string_view value) {
  check(db_, sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC), "bind");
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check(db_, sqlite3_bind_double(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  check(db_, sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Statement& Statement::bind(int index, std::optional<int> value) {
  return value ? bind(index, static_cast<int64_t>(*value)) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  check(db_, sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

Statement& Statement::bind_text_or_null(int index, std::string_view value) {
  return value.empty() ? bind_null(index) : bind(index, value);
}

Statement& Statement::bind_time_or_null(int index, double value) {
  return value == 0 ? bind_null(index) : bind(index, value);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  check(db_, rc, "");
  return false;
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::string Statement::text(int column) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }

int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<int> Statement::optional_int(int column) const {
  if (is_null(column)) return std::nullopt;
  return sqlite3_column_int(stmt_, column);
}

void backup_database(sqlite3* from, const std::filesystem::path& to) {
  Connection dest(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3_backup* backup = sqlite3_backup_init(dest.get(), "main", from, "main");
  if (!backup) check(dest.get(), sqlite3_errcode(dest.get()), fmt::format("backup to {}", to.string()));
  const int step_rc = sqlite3_backup_step(backup, -1);
  const int finish_rc = sqlite3_backup_finish(backup);
  if (step_rc != SQLITE_DONE) check(dest.get(), step_rc, fmt::format("backup to {}", to.string()));
  check(dest.get(), finish_rc, fmt::format("backup to {}", to.string()));
}

}  // namespace mstar::registry::detail
