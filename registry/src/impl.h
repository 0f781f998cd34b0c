// Private: the state behind a Registry and the transaction helper that every
// public method goes through.
#pragma once

#include <filesystem>
#include <mutex>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/core.h>
#include <spdlog/logger.h>

#include "mstar/error.h"
#include "mstar/registry/registry.h"
#include "sqlite.h"

namespace mstar::registry {

spdlog::logger& logger();

namespace detail {

// Whole-transaction retries on SQLITE_BUSY/LOCKED, on top of the 10 s
// busy_timeout that already waits inside each statement.
inline constexpr int kMaxAttempts = 8;
inline constexpr int kBusyTimeoutMs = 10'000;

// Sleeps 5 ms * 2^(attempt-1), at most 1 s, with random jitter so that
// writers that collided do not collide again.
void backoff(int attempt);

// Runs fn, retrying it when SQLite reports a lock held by another
// connection. Any SqliteError that is left becomes Error(Io) naming the file.
template <class F>
auto retry_busy(const std::filesystem::path& file, std::string_view what, F&& fn) -> std::invoke_result_t<F&> {
  for (int attempt = 1;; ++attempt) {
    try {
      return fn();
    } catch (const SqliteError& e) {
      if (!e.is_busy()) throw Error(ErrorCategory::Io, fmt::format("registry {}: {}: {}", file.string(), what, e.what()));
      if (attempt >= kMaxAttempts)
        throw Error(ErrorCategory::Io,
                    fmt::format("registry {}: {}: {}; another process held its lock through {} tries of {} s each. "
                                "Nothing recorded is lost: run the same command again once it is released "
                                "(finished nodes are reused from the store)",
                                file.string(), what, e.what(), kMaxAttempts, kBusyTimeoutMs / 1000));
      // The first collision is routine (e.g. two processes creating the
      // database); repeated ones mean a writer holds its lock too long.
      logger().log(attempt == 1 ? spdlog::level::debug : spdlog::level::warn,
                   "{}: {} busy (attempt {}/{}), retrying: {}", file.string(), what, attempt, kMaxAttempts, e.what());
      backoff(attempt);
    }
  }
}

// Rolls back on scope exit unless the transaction was committed.
class TransactionGuard {
 public:
  explicit TransactionGuard(sqlite3* db) : db_(db) {}
  ~TransactionGuard() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  TransactionGuard(const TransactionGuard&) = delete;
  TransactionGuard& operator=(const TransactionGuard&) = delete;

 private:
  sqlite3* db_;
};

}  // namespace detail

struct Registry::Impl {
  Impl(std::filesystem::path file, OpenMode open_mode, detail::Connection connection)
      : path(std::move(file)), mode(open_mode), conn(std::move(connection)) {}

  std::filesystem::path path;
  OpenMode mode;
  detail::Connection conn;
  int version = 0;
  mutable std::mutex mutex;

  sqlite3* db() const { return conn.get(); }

  enum class Txn {
    Read,           // BEGIN: a snapshot for reads
    Write,          // BEGIN IMMEDIATE: the write lock up front, never upgraded
    ReadThenWrite,  // BEGIN: read first, take the write lock on the first write
  };

  // One transaction around body(), retried as a whole when busy. A
  // ReadThenWrite transaction whose snapshot went stale before its first
  // write fails with SQLITE_BUSY_SNAPSHOT and is retried on a new snapshot.
  template <class F>
  auto transact(Txn kind, std::string_view what, F&& body) const -> std::invoke_result_t<F&> {
    if (kind != Txn::Read && mode == OpenMode::ReadOnly) {
      throw Error(ErrorCategory::Io,
                  fmt::format("registry {}: {}: the database was opened read-only", path.string(), what));
    }
    std::lock_guard lock(mutex);
    return detail::retry_busy(path, what, [&] {
      detail::exec(db(), kind == Txn::Write ? "BEGIN IMMEDIATE" : "BEGIN");
      detail::TransactionGuard guard(db());
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        body();
        detail::exec(db(), "COMMIT");
      } else {
        auto result = body();
        detail::exec(db(), "COMMIT");
        return result;
      }
    });
  }
  template <class F>
  auto write(std::string_view what, F&& body) const {
    return transact(Txn::Write, what, std::forward<F>(body));
  }
  template <class F>
  auto read(std::string_view what, F&& body) const {
    return transact(Txn::Read, what, std::forward<F>(body));
  }

  // Called once by open(): pragmas, then create, migrate or check the schema.
  void configure();
  void prepare_schema();
};

}  // namespace mstar::registry
