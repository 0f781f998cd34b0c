// The PostgreSQL backend through libpq. Statements run with PQexecParams
// (parameters as text, types inferred by the server); results are read whole.
// A read-only registry sets default_transaction_read_only on its session.
#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "db/db.h"
#include "db/dialect.h"

namespace mstar::registry::detail {

namespace {

// Type OIDs (pg_type.h is not part of libpq's public headers).
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700, kBytea = 17;

DbError error_from(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = res ? PQresultErrorMessage(res) : "";
  if (msg.empty()) msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const std::string s = state ? state : "";
  DbError::Kind kind = DbError::Kind::Other;
  if (s == "40001" || s == "40P01" || s == "55P03") kind = DbError::Kind::Busy;
  else if (s == "25006") kind = DbError::Kind::ReadOnly;
  if (PQstatus(conn) == CONNECTION_BAD) msg = "the connection to the server was lost: " + msg;
  return DbError(kind, what.empty() ? fmt::format("{} (sqlstate {})", msg, s)
                                    : fmt::format("{}: {} (sqlstate {})", what, msg, s));
}

struct ResultPtr {
  PGresult* res = nullptr;
  ResultPtr() = default;
  explicit ResultPtr(PGresult* r) : res(r) {}
  ResultPtr(ResultPtr&& o) noexcept : res(std::exchange(o.res, nullptr)) {}
  ResultPtr& operator=(ResultPtr&& o) noexcept {
    if (this != &o) {
      PQclear(res);
      res = std::exchange(o.res, nullptr);
    }
    return *this;
  }
  ~ResultPtr() { PQclear(res); }
};

ResultPtr run(PGconn* conn, const std::string& sql, const std::vector<std::optional<std::string>>& params,
              std::string_view what) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  ResultPtr r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                           nullptr, 0));
  const ExecStatusType status = r.res ? PQresultStatus(r.res) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) throw error_from(conn, r.res, what);
  return r;
}

void exec_script(PGconn* conn, const std::string& script) {
  ResultPtr r(PQexec(conn, script.c_str()));
  const ExecStatusType status = r.res ? PQresultStatus(r.res) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    throw error_from(conn, r.res, fmt::format("'{}'", std::string_view(script).substr(0, 60)));
}

class PgStatement final : public StatementImpl {
 public:
  // `user`: a `registry sql` statement, run inside a READ ONLY transaction
  // that is rolled back.
  PgStatement(PGconn* conn, std::string sql, bool user) : conn_(conn), sql_(std::move(sql)), user_(user) {
    params_.resize(static_cast<size_t>(dialect::postgres_parameter_count(sql_)));
  }
  void bind_text(int index, std::string_view value, bool) override { param(index) = std::string(value); }
  void bind_real(int index, double value) override {
    if (std::isnan(value)) return bind_null(index);
    param(index) = std::isinf(value) ? std::string(value > 0 ? "Infinity" : "-Infinity") : fmt::format("{}", value);
  }
  void bind_int(int index, int64_t value) override { param(index) = std::to_string(value); }
  void bind_null(int index) override { param(index).reset(); }
  bool step() override {
    if (!result_.res) {
      if (user_) exec_script(conn_, "BEGIN READ ONLY");
      try {
        result_ = run(conn_, sql_, params_, "");
      } catch (...) {
        if (user_) PQclear(PQexec(conn_, "ROLLBACK"));
        throw;
      }
      if (user_) exec_script(conn_, "ROLLBACK");
      row_ = -1;
      const char* n = PQcmdTuples(result_.res);
      changes_ = n && *n ? std::stoll(n) : 0;
    }
    return ++row_ < PQntuples(result_.res);
  }
  void reset() noexcept override {
    result_ = ResultPtr();
    for (auto& p : params_) p.reset();
  }
  int64_t changes() const override { return changes_; }
  int parameter_count() const override { return static_cast<int>(params_.size()); }
  int column_count() const override { return result_.res ? PQnfields(result_.res) : 0; }
  std::string column_name(int column) const override { return PQfname(result_.res, column); }
  CellType type(int column) const override {
    if (PQgetisnull(result_.res, row_, column)) return CellType::Null;
    switch (PQftype(result_.res, column)) {
      case kBool: return CellType::Bool;
      case kInt2:
      case kInt4:
      case kInt8:
      case kOid: return CellType::Integer;
      case kFloat4:
      case kFloat8:
      case kNumeric: return CellType::Real;
      case kBytea: return CellType::Blob;
      default: return CellType::Text;
    }
  }
  std::string text(int column) const override {
    if (PQgetisnull(result_.res, row_, column)) return {};
    return std::string(PQgetvalue(result_.res, row_, column),
                       static_cast<size_t>(PQgetlength(result_.res, row_, column)));
  }
  double real(int column) const override {
    const std::string t = text(column);
    if (t.empty()) return 0;
    if (t == "t" || t == "f") return t == "t" ? 1 : 0;
    double out = 0;
    std::from_chars(t.data(), t.data() + t.size(), out);  // also "Infinity", "NaN"
    return out;
  }
  int64_t int64(int column) const override {
    const std::string t = text(column);
    if (t.empty()) return 0;
    if (t == "t" || t == "f") return t == "t" ? 1 : 0;
    int64_t out = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    if (ec != std::errc() || end != t.data() + t.size()) return static_cast<int64_t>(real(column));
    return out;
  }

 private:
  std::optional<std::string>& param(int index) {
    if (index < 1 || index > static_cast<int>(params_.size()))
      throw DbError(DbError::Kind::Other, fmt::format("bind: no parameter ${} in '{}'", index, sql_.substr(0, 80)));
    return params_[static_cast<size_t>(index - 1)];
  }

  PGconn* conn_;
  std::string sql_;
  bool user_;
  std::vector<std::optional<std::string>> params_;
  ResultPtr result_;
  int row_ = -1;
  int64_t changes_ = 0;
};

// The first word of a user statement, lower-cased, after comments and '('.
std::string first_keyword(std::string_view sql) {
  size_t i = 0;
  for (;;) {
    while (i < sql.size() && (std::isspace(static_cast<unsigned char>(sql[i])) || sql[i] == '(')) ++i;
    if (sql.substr(i, 2) == "--") {
      i = sql.find('\n', i);
      if (i == std::string_view::npos) return "";
    } else if (sql.substr(i, 2) == "/*") {
      i = sql.find("*/", i);
      if (i == std::string_view::npos) return "";
      i += 2;
    } else {
      break;
    }
  }
  std::string word;
  while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])))
    word += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i++])));
  return word;
}

class PgConnection final : public Connection {
 public:
  PgConnection(const std::string& url, bool read_only) : conn_(PQconnectdb(url.c_str())) {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      PQfinish(conn_);
      conn_ = nullptr;
      throw DbError(DbError::Kind::CannotOpen, "cannot connect: " + msg);
    }
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "already exists, skipping" etc.
    exec_script(conn_, read_only ? "SET default_transaction_read_only = on" : "SET client_min_messages = warning");
  }
  ~PgConnection() override { PQfinish(conn_); }

  Backend backend() const override { return Backend::Postgres; }
  void exec(std::string_view script) override { exec_script(conn_, dialect::postgres_ddl(script)); }
  std::unique_ptr<StatementImpl> prepare(std::string_view sql) override {
    return std::make_unique<PgStatement>(conn_, dialect::postgres_placeholders(sql), false);
  }
  std::unique_ptr<StatementImpl> prepare_user_query(std::string_view sql) override {
    const std::string word = first_keyword(sql);
    if (word.empty()) throw DbError(DbError::Kind::Refused, "no SQL statement given");
    if (word != "select" && word != "with" && word != "values" && word != "table" && word != "explain" &&
        word != "show")
      throw DbError(DbError::Kind::ReadOnly, fmt::format("'{}' statements are refused ({})", word, sql.substr(0, 80)));
    // PQexecParams runs one statement only: a second one is an error there.
    // ?1, ?2 work as in SQLite, beside PostgreSQL's own $1.
    return std::make_unique<PgStatement>(conn_, dialect::postgres_placeholders(sql, true), true);
  }
  void begin(Txn kind) override {
    exec_script(conn_, kind == Txn::Read ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
  }
  void commit() override { exec_script(conn_, "COMMIT"); }
  void rollback() noexcept override {
    if (in_transaction()) PQclear(PQexec(conn_, "ROLLBACK"));
  }
  bool in_transaction() const override { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

  std::vector<std::string> tables() override {
    return column0("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                   "AND table_type = 'BASE TABLE' ORDER BY table_name");
  }
  std::vector<std::string> schema_sql() override {
    std::vector<std::string> out;
    for (const std::string& table : tables()) {
      ResultPtr cols = run(conn_, R"sql(
        SELECT column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position)sql",
                           {table}, "schema");
      std::string ddl = "CREATE TABLE " + table + " (";
      for (int r = 0; r < PQntuples(cols.res); ++r) {
        ddl += fmt::format("{}\n  {} {}", r ? "," : "", PQgetvalue(cols.res, r, 0), PQgetvalue(cols.res, r, 1));
        if (std::string_view(PQgetvalue(cols.res, r, 2)) == "NO") ddl += " NOT NULL";
        if (!PQgetisnull(cols.res, r, 3)) ddl += std::string(" DEFAULT ") + PQgetvalue(cols.res, r, 3);
        if (std::string_view(PQgetvalue(cols.res, r, 4)) == "YES") ddl += " GENERATED BY DEFAULT AS IDENTITY";
      }
      out.push_back(ddl + "\n)");
      ResultPtr idx = run(conn_, "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND "
                                 "tablename = $1 ORDER BY indexname", {table}, "schema");
      for (int r = 0; r < PQntuples(idx.res); ++r) out.emplace_back(PQgetvalue(idx.res, r, 0));
    }
    return out;
  }
  // The server keeps its own pages consistent; what can go wrong here is a
  // table the registry needs that is missing or unreadable.
  std::string integrity_check() override {
    for (const char* table : {"meta", "sweeps", "runs", "params", "node_runs", "metrics", "summaries"})
      run(conn_, fmt::format("SELECT count(*) FROM {}", table), {}, fmt::format("read table {}", table));
    return "ok";
  }
  void lock_schema() override { run(conn_, "SELECT pg_advisory_xact_lock(7310412)", {}, "lock the schema"); }
  std::string backup_before_migration(int) override { return ""; }
  size_t rows_per_insert() const override { return 200; }
  void after_explicit_rowids(std::string_view table) override {
    const std::string t(table);
    run(conn_, fmt::format("SELECT setval(pg_get_serial_sequence('{0}', 'rowid'), "
                           "coalesce((SELECT max(rowid) FROM {0}), 0) + 1, false)", t), {}, "advance rowid of " + t);
  }

 private:
  std::vector<std::string> column0(const char* sql) {
    ResultPtr r = run(conn_, sql, {}, "");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.res); ++i) out.emplace_back(PQgetvalue(r.res, i, 0));
    return out;
  }

  PGconn* conn_;
};

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& url, bool read_only) {
  return std::make_unique<PgConnection>(url, read_only);
}

bool is_postgres_url(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  // scheme://user:password@host
  const size_t scheme = out.find("://");
  const size_t at = out.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t slash = out.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const size_t colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ?password=... or &password=...
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

}  // namespace mstar::registry::detail
