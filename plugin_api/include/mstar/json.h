// Parameters, manifests and metadata are JSON values. nlohmann::json keeps
// object keys sorted, which makes its dump() canonical: cache keys rely on it.
#pragma once

#include <nlohmann/json.hpp>

namespace mstar {
using Json = nlohmann::json;
}  // namespace mstar
