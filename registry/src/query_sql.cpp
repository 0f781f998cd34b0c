// `mstar registry sql`: one user statement on a read-only connection. Three
// locks, each enough alone: the connection is SQLITE_OPEN_READONLY, it has
// `PRAGMA query_only`, and a statement that sqlite3_stmt_readonly() says
// would write is refused before it runs. An authorizer also refuses ATTACH
// (which could open other files) and pragmas that change settings.
#include <cctype>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "impl.h"
#include "mstar/registry/query.h"
#include "sqlite.h"

namespace mstar::registry {

namespace {

constexpr std::string_view kReadOnlyHint =
    "`mstar registry sql` is read-only: use SELECT, WITH, EXPLAIN or a pragma that reads";

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

// Clears the authorizer on every way out.
class AuthorizerGuard {
 public:
  AuthorizerGuard(sqlite3* db, AuthState* state) : db_(db) { sqlite3_set_authorizer(db, authorize, state); }
  ~AuthorizerGuard() { sqlite3_set_authorizer(db_, nullptr, nullptr); }
  AuthorizerGuard(const AuthorizerGuard&) = delete;
  AuthorizerGuard& operator=(const AuthorizerGuard&) = delete;

 private:
  sqlite3* db_;
};

class StmtGuard {
 public:
  ~StmtGuard() { sqlite3_finalize(stmt); }
  sqlite3_stmt* stmt = nullptr;
};

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

Value column_value(sqlite3_stmt* st, int c) {
  switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: {
      const sqlite3_int64 v = sqlite3_column_int64(st, c);
      constexpr sqlite3_int64 kExact = sqlite3_int64{1} << 53;
      if (v > kExact || v < -kExact) return std::to_string(v);
      return static_cast<double>(v);
    }
    case SQLITE_FLOAT: return sqlite3_column_double(st, c);
    case SQLITE_TEXT:
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c)),
                         static_cast<size_t>(sqlite3_column_bytes(st, c)));
    case SQLITE_BLOB: {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, c));
      const int n = sqlite3_column_bytes(st, c);
      std::string hex = "x'";
      for (int i = 0; i < n; ++i) hex += fmt::format("{:02x}", p[i]);
      return hex + "'";
    }
    default: return {};
  }
}

}  // namespace

Table run_readonly_sql(Registry& reg, std::string_view sql, const std::vector<std::string>& args) {
  if (reg.mode() != OpenMode::ReadOnly)
    throw Error(ErrorCategory::Internal, "run_readonly_sql needs a registry opened with OpenMode::ReadOnly");
  sqlite3* db = reg.handle();
  detail::retry_busy(reg.path(), "query_only", [&] { detail::exec(db, "PRAGMA query_only = 1"); });

  AuthState auth;
  StmtGuard stmt;
  {
    AuthorizerGuard guard(db, &auth);
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt.stmt, &tail);
    if (rc != SQLITE_OK) {
      if (!auth.refused.empty()) throw_bad_input("registry sql: " + auth.refused);
      throw_bad_input(fmt::format("registry sql: {}", sqlite3_errmsg(db)));
    }
    if (!stmt.stmt) throw_bad_input("registry sql: no SQL statement given");
    if (tail && !only_trailing(std::string_view(tail, sql.data() + sql.size() - tail)))
      throw_bad_input("registry sql: one statement at a time (found more after the first ';')");
  }
  if (!sqlite3_stmt_readonly(stmt.stmt))
    throw_bad_input(fmt::format("registry sql: refused: the statement would modify the registry ({}). {}",
                                std::string_view(sql).substr(0, 80), kReadOnlyHint));

  const int wanted = sqlite3_bind_parameter_count(stmt.stmt);
  if (static_cast<int>(args.size()) > wanted)
    throw_bad_input(fmt::format("registry sql: {} --arg values given, but the statement has {} parameters",
                                args.size(), wanted));
  for (size_t i = 0; i < args.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    if (auto num = to_number(Value(args[i])); num && std::isfinite(*num)) {
      if (*num == std::floor(*num) && std::fabs(*num) < 9.0e15)
        sqlite3_bind_int64(stmt.stmt, index, static_cast<sqlite3_int64>(*num));
      else sqlite3_bind_double(stmt.stmt, index, *num);
    } else {
      sqlite3_bind_text(stmt.stmt, index, args[i].data(), static_cast<int>(args[i].size()), SQLITE_TRANSIENT);
    }
  }

  Table t;
  const int ncol = sqlite3_column_count(stmt.stmt);
  for (int c = 0; c < ncol; ++c) t.columns.push_back(sqlite3_column_name(stmt.stmt, c));
  for (;;) {
    const int rc = sqlite3_step(stmt.stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      const int primary = rc & 0xff;
      if (primary == SQLITE_READONLY)
        throw_bad_input(fmt::format("registry sql: refused: {}. {}", sqlite3_errmsg(db), kReadOnlyHint));
      if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        throw Error(ErrorCategory::Io, fmt::format("registry {}: sql: {}", reg.path().string(), sqlite3_errmsg(db)));
      throw_bad_input(fmt::format("registry sql: {}", sqlite3_errmsg(db)));
    }
    std::vector<Value> row;
    for (int c = 0; c < ncol; ++c) row.push_back(column_value(stmt.stmt, c));
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace mstar::registry
