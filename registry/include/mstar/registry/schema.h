// Schema versions of the registry database. The version lives in
// meta(key='schema_version'). Every version's DDL is kept: a new database is
// built as v1 plus every forward migration, so fresh and migrated databases
// are the same. See docs/registry.md.
#pragma once

#include <string_view>

namespace mstar::registry {

inline constexpr int kSchemaVersion = 2;

// The frozen DDL of schema version 1 (tables, indexes and the meta row).
// Tests use it to build an old database by hand.
std::string_view schema_v1_sql();

}  // namespace mstar::registry
