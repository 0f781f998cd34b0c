// `mstar registry copy SRC DST`: every row of one registry into another,
// across backends (an SQLite file <-> a postgresql:// URL), then a row count
// and a checksum of every table on both sides.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mstar::registry {

class Registry;

struct TableChecksum {
  std::string table;
  int64_t rows = 0;
  // SHA-1 over the table's rows in primary-key order (bytewise), each cell in
  // a canonical text (numbers as their shortest round-trip form, NULL marked),
  // insertion order (rowid) included: equal on two backends iff they hold the
  // same rows.
  std::string checksum;
};

// The registry's tables, in the order they are copied.
std::vector<TableChecksum> table_checksums(Registry& reg);

struct CopyResult {
  std::vector<TableChecksum> source, destination;
  bool identical() const;
};

// Opens `source` read-only and `destination` read-write (created at the
// current schema if absent), copies every row in one transaction and
// compares. Refuses (Error(BadInput)) a destination that already holds runs,
// sweeps or metrics, and the same registry as both.
CopyResult copy_registry(const std::filesystem::path& source, const std::filesystem::path& destination);

}  // namespace mstar::registry
