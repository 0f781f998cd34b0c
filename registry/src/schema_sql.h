// Private: the forward migrations of the registry schema.
#pragma once

#include <string_view>

namespace mstar::registry {

// The SQL that takes a database from `from_version` to from_version + 1;
// 1 <= from_version < kSchemaVersion.
std::string_view migration_sql(int from_version);

}  // namespace mstar::registry
