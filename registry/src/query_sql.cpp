// `mstar registry sql`: one user statement, in the backend's own SQL, on a
// read-only connection. The backend guards it (db/sqlite.cpp: a read-only
// file, `PRAGMA query_only`, an authorizer and sqlite3_stmt_readonly;
// db/postgres.cpp: a read-only session, a READ ONLY transaction that is
// rolled back, and only SELECT/WITH/VALUES/TABLE/EXPLAIN/SHOW).
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "db/statement.h"
#include "impl.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

namespace {

constexpr std::string_view kReadOnlyHint =
    "`mstar registry sql` is read-only: use SELECT, WITH, EXPLAIN or a pragma that reads";

Value cell_value(const detail::Statement& st, int c) {
  switch (st.type(c)) {
    case detail::CellType::Integer: {
      const int64_t v = st.int64(c);
      constexpr int64_t kExact = int64_t{1} << 53;
      if (v > kExact || v < -kExact) return std::to_string(v);
      return static_cast<double>(v);
    }
    case detail::CellType::Real: return st.real(c);
    case detail::CellType::Bool: return st.int64(c) != 0;
    case detail::CellType::Text:
    case detail::CellType::Blob: return st.text(c);
    case detail::CellType::Null: return {};
  }
  return {};
}

}  // namespace

Table run_readonly_sql(Registry& reg, std::string_view sql, const std::vector<std::string>& args) {
  if (reg.mode() != OpenMode::ReadOnly)
    throw Error(ErrorCategory::Internal, "run_readonly_sql needs a registry opened with OpenMode::ReadOnly");
  detail::Connection& db = detail::RegistryAccess::connection(reg);
  auto refuse = [&](const detail::DbError& e) -> Table {
    using Kind = detail::DbError::Kind;
    if (e.kind() == Kind::ReadOnly) throw_bad_input(fmt::format("registry sql: refused: {}. {}", e.what(), kReadOnlyHint));
    if (e.kind() == Kind::Busy || e.kind() == Kind::CannotOpen)
      throw Error(ErrorCategory::Io, fmt::format("registry {}: sql: {}", reg.path().string(), e.what()));
    throw_bad_input(fmt::format("registry sql: {}", e.what()));
  };
  try {
    detail::Statement st(db.prepare_user_query(sql));
    const int wanted = st.impl().parameter_count();
    if (static_cast<int>(args.size()) > wanted)
      throw_bad_input(fmt::format("registry sql: {} --arg values given, but the statement has {} parameters",
                                  args.size(), wanted));
    for (size_t i = 0; i < args.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      if (auto num = to_number(Value(args[i])); num && std::isfinite(*num)) {
        if (*num == std::floor(*num) && std::fabs(*num) < 9.0e15) st.bind(index, static_cast<int64_t>(*num));
        else st.bind(index, *num);
      } else {
        st.bind(index, args[i]);
      }
    }
    Table t;
    // Column names after the first step: PostgreSQL runs the statement there.
    bool more = st.step();
    const int ncol = st.impl().column_count();
    for (int c = 0; c < ncol; ++c) t.columns.push_back(st.impl().column_name(c));
    for (; more; more = st.step()) {
      std::vector<Value> row;
      for (int c = 0; c < ncol; ++c) row.push_back(cell_value(st, c));
      t.rows.push_back(std::move(row));
    }
    return t;
  } catch (const detail::DbError& e) {
    return refuse(e);
  }
}

}  // namespace mstar::registry
