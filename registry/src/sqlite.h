// Thin RAII layer over the SQLite C API, private to the registry.
// SqliteError carries the result code so that callers can retry on
// SQLITE_BUSY / SQLITE_LOCKED; everything else becomes mstar::Error(Io).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <sqlite3.h>

namespace mstar::registry::detail {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const noexcept { return code_; }
  // Worth retrying the whole transaction: another connection held a lock.
  bool is_busy() const noexcept;

 private:
  int code_;
};

// Throws SqliteError with `what` (may be empty) and the connection's message
// unless rc is OK/ROW/DONE.
void check(sqlite3* db, int rc, std::string_view what);
void exec(sqlite3* db, const char* sql);

// An owned connection; closes on destruction.
class Connection {
 public:
  Connection() = default;
  Connection(const std::filesystem::path& file, int flags);
  ~Connection();
  Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  sqlite3* get() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// A prepared statement; finalized on destruction, so an exception between
// prepare and the last step leaks nothing and leaves no read lock behind.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind by 1-based index. Strings are copied (SQLITE_TRANSIENT).
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, std::optional<int> value);
  // Not copied: `value` must stay alive and unchanged until the next reset().
  Statement& bind_static(int index, std::string_view value);
  Statement& bind_null(int index);
  // NULL when empty / when 0: for optional text and times.
  Statement& bind_text_or_null(int index, std::string_view value);
  Statement& bind_time_or_null(int index, double value);

  // true while a row is available; false at the end.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  // Ready for the next set of bindings.
  void reset() noexcept;

  bool is_null(int column) const;
  std::string text(int column) const;  // "" for NULL
  double real(int column) const;       // 0 for NULL
  int64_t int64(int column) const;
  std::optional<int> optional_int(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Copies the whole database `from` into the file `to` with the backup API.
void backup_database(sqlite3* from, const std::filesystem::path& to);

}  // namespace mstar::registry::detail
