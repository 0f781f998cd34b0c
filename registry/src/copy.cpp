#include "mstar/registry/copy.h"

#include <boost/uuid/detail/sha1.hpp>

#include <fmt/format.h>

#include "db/statement.h"
#include "impl.h"

namespace mstar::registry {

namespace {

struct TableSpec {
  const char* name;
  const char* primary_key;
  bool has_rowid;  // insertion order matters (ORDER BY rowid): copied too
};

// Parents before children (foreign keys).
constexpr TableSpec kTables[] = {
    {"meta", "key", false},
    {"sweeps", "id", true},
    {"runs", "id", true},
    {"params", "run_id, key", false},
    {"node_runs", "run_id, node", true},
    {"metrics", "cache_key, key, step", false},
    {"summaries", "cache_key, key", false},
};

// The table's columns (rowid first where it has one).
std::vector<std::string> columns_of(detail::Connection& db, const TableSpec& t) {
  detail::Statement st(db, fmt::format("SELECT * FROM {} WHERE FALSE", t.name));
  st.step();
  std::vector<std::string> out;
  if (t.has_rowid) out.emplace_back("rowid");
  for (int c = 0; c < st.impl().column_count(); ++c)
    if (std::string name = st.impl().column_name(c); name != "rowid") out.push_back(name);
  return out;
}

std::string canonical(const detail::Statement& st, int c) {
  switch (st.type(c)) {
    case detail::CellType::Null: return "\x01";
    case detail::CellType::Integer:
    case detail::CellType::Bool: return std::to_string(st.int64(c));
    case detail::CellType::Real: {
      const double v = st.real(c);
      if (v == static_cast<double>(static_cast<int64_t>(v))) return std::to_string(static_cast<int64_t>(v));
      return fmt::format("{}", v);
    }
    default: return st.text(c);
  }
}

void bind_cell(detail::Statement& insert, int index, const detail::Statement& row, int c) {
  switch (row.type(c)) {
    case detail::CellType::Null: insert.bind_null(index); break;
    case detail::CellType::Integer:
    case detail::CellType::Bool: insert.bind(index, row.int64(c)); break;
    case detail::CellType::Real: insert.bind(index, row.real(c)); break;
    default: insert.bind(index, row.text(c));
  }
}

std::string joined(const std::vector<std::string>& names) { return fmt::format("{}", fmt::join(names, ", ")); }

}  // namespace

std::vector<TableChecksum> table_checksums(Registry& reg) {
  detail::Connection& db = detail::RegistryAccess::connection(reg);
  std::vector<TableChecksum> out;
  detail::retry_busy(reg.path(), "checksum", [&] {
    out.clear();
    db.begin(detail::Txn::Read);  // one snapshot for all tables
    detail::TransactionGuard guard(db);
    for (const TableSpec& t : kTables) {
      const std::vector<std::string> cols = columns_of(db, t);
      detail::Statement st(db, fmt::format("SELECT {} FROM {} ORDER BY {}", joined(cols), t.name, t.primary_key));
      boost::uuids::detail::sha1 hash;
      TableChecksum sum{t.name, 0, ""};
      while (st.step()) {
        ++sum.rows;
        for (int c = 0; c < static_cast<int>(cols.size()); ++c) {
          const std::string cell = canonical(st, c);
          hash.process_bytes(cell.data(), cell.size());
          hash.process_byte(c + 1 < static_cast<int>(cols.size()) ? '\x1f' : '\x1e');
        }
      }
      boost::uuids::detail::sha1::digest_type digest;
      hash.get_digest(digest);
      for (unsigned int word : digest) sum.checksum += fmt::format("{:08x}", word);
      out.push_back(std::move(sum));
    }
    db.commit();
  });
  return out;
}

bool CopyResult::identical() const {
  if (source.size() != destination.size()) return false;
  for (size_t i = 0; i < source.size(); ++i)
    if (source[i].rows != destination[i].rows || source[i].checksum != destination[i].checksum) return false;
  return true;
}

CopyResult copy_registry(const std::filesystem::path& source, const std::filesystem::path& destination) {
  if (source == destination) throw_bad_input("registry copy: source and destination are the same registry");
  auto src = Registry::open(source, OpenMode::ReadOnly);
  auto dst = Registry::open(destination, OpenMode::ReadWrite);
  detail::Connection& from = detail::RegistryAccess::connection(*src);
  detail::Connection& to = detail::RegistryAccess::connection(*dst);
  for (const TableChecksum& t : table_checksums(*dst)) {
    if (t.table == "meta" || t.rows == 0) continue;
    throw_bad_input(fmt::format("registry copy: the destination {} is not empty (table {} has {} rows); copy into "
                                "a new file or an empty PostgreSQL database/schema",
                                dst->path().string(), t.table, t.rows));
  }
  detail::retry_busy(dst->path(), "copy", [&] {
    to.begin(detail::Txn::Write);
    detail::TransactionGuard guard(to);
    for (const TableSpec& t : kTables) {
      const std::vector<std::string> cols = columns_of(from, t);
      std::string marks;
      for (size_t i = 0; i < cols.size(); ++i) marks += fmt::format("{}?{}", i ? ", " : "", i + 1);
      std::string sql = fmt::format("INSERT INTO {}({}) VALUES ({})", t.name, joined(cols), marks);
      if (std::string_view(t.name) == "meta") sql += " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
      detail::Statement insert(to, sql);
      detail::Statement rows(from, fmt::format("SELECT {} FROM {} ORDER BY {}", joined(cols), t.name,
                                               t.has_rowid ? "rowid" : t.primary_key));
      while (rows.step()) {
        for (int c = 0; c < static_cast<int>(cols.size()); ++c) bind_cell(insert, c + 1, rows, c);
        insert.run();
        insert.reset();
      }
      if (t.has_rowid) to.after_explicit_rowids(t.name);
    }
    to.commit();
  });
  logger().info("copied registry {} into {}", src->path().string(), dst->path().string());
  return CopyResult{table_checksums(*src), table_checksums(*dst)};
}

}  // namespace mstar::registry
