// Private: the state behind a Registry and the transaction helper that every
// public method goes through.
#pragma once

#include <filesystem>
#include <atomic>
#include <mutex>
#include <thread>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/core.h>
#include <spdlog/logger.h>

#include "mstar/error.h"
#include "mstar/registry/registry.h"
#include "db/db.h"
#include "db/statement.h"

namespace mstar::registry {

spdlog::logger& logger();

namespace detail {

// Whole-transaction retries when busy (SQLite: on top of the 10 s
// busy_timeout that already waits inside each statement; PostgreSQL: a
// deadlock or serialization failure).
inline constexpr int kMaxAttempts = 8;
inline constexpr int kBusyTimeoutMs = 10'000;

// Sleeps 5 ms * 2^(attempt-1), at most 1 s, with random jitter so that
// writers that collided do not collide again.
void backoff(int attempt);

// Runs fn, retrying it when the database reports a lock held by another
// connection. Any DbError that is left becomes Error(Io) naming the
// registry (a file, or a URL without its password).
template <class F>
auto retry_busy(const std::filesystem::path& file, std::string_view what, F&& fn) -> std::invoke_result_t<F&> {
  for (int attempt = 1;; ++attempt) {
    try {
      return fn();
    } catch (const DbError& e) {
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
  explicit TransactionGuard(Connection& db) : db_(db) {}
  ~TransactionGuard() { db_.rollback(); }
  TransactionGuard(const TransactionGuard&) = delete;
  TransactionGuard& operator=(const TransactionGuard&) = delete;

 private:
  Connection& db_;
};


}  // namespace detail

struct Registry::Impl {
  Impl(std::filesystem::path where, OpenMode open_mode, std::unique_ptr<detail::Connection> connection)
      : path(std::move(where)), mode(open_mode), conn(std::move(connection)) {}

  std::filesystem::path path;  // the file, or the URL without its password
  OpenMode mode;
  std::unique_ptr<detail::Connection> conn;
  int version = 0;
  mutable std::mutex mutex;
  // The thread running a batch() while it holds `mutex` and the transaction.
  mutable std::atomic<std::thread::id> batch_thread{};

  detail::Connection& db() const { return *conn; }
  using Txn = detail::Txn;

  // One transaction around body(), retried as a whole when busy. A SQLite
  // ReadThenWrite transaction whose snapshot went stale before its first
  // write fails with SQLITE_BUSY_SNAPSHOT and is retried on a new snapshot.
  template <class F>
  auto transact(Txn kind, std::string_view what, F&& body) const -> std::invoke_result_t<F&> {
    if (kind != Txn::Read && mode == OpenMode::ReadOnly) {
      throw Error(ErrorCategory::Io,
                  fmt::format("registry {}: {}: the database was opened read-only", path.string(), what));
    }
    // Inside this thread's batch(): the batch's transaction is this one.
    if (batch_thread == std::this_thread::get_id()) return body();
    std::lock_guard lock(mutex);
    return detail::retry_busy(path, what, [&] {
      db().begin(kind);
      detail::TransactionGuard guard(db());
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        body();
        db().commit();
      } else {
        auto result = body();
        db().commit();
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

  // Called once by open(): create, migrate or check the schema.
  void prepare_schema();
};

namespace detail {
// The query engine's way to the connection of a Registry (not public API).
struct RegistryAccess {
  static Connection& connection(Registry& reg) { return *reg.impl_->conn; }
};
}  // namespace detail

}  // namespace mstar::registry
