// Private: how JSON values and statuses are stored in registry columns.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mstar/json.h"

namespace mstar::registry::detail {

// A param value as its three columns: value_type, value_text, value_num.
// Strings are stored raw in value_text (so SQL can compare them), everything
// else as its JSON text; value_num is set for numbers only.
struct ParamColumns {
  std::string type, text;
  std::optional<double> num;
};
ParamColumns encode_param(const Json& value);
Json decode_param(const std::string& type, const std::string& text);

// Json -> compact text ("{}" for null); text -> Json, throwing Error(Io) that
// names `what` when the stored text is not JSON.
std::string json_text(const Json& value);
Json parse_stored_json(const std::string& text, std::string_view what);

// Throws Error(BadInput) listing the valid statuses.
void require_run_status(std::string_view status);
void require_node_status(std::string_view status);

double now_seconds();

}  // namespace mstar::registry::detail
