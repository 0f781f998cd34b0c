#include "values.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "mstar/error.h"
#include "mstar/registry/records.h"
#include "mstar/registry/registry.h"

namespace mstar::registry {

namespace {

void flatten_into(const Json& value, const std::string& prefix, std::map<std::string, Json>& out) {
  if (!value.is_object() || value.empty()) {
    out[prefix] = value;
    return;
  }
  for (const auto& [key, child] : value.items()) flatten_into(child, prefix.empty() ? key : prefix + "." + key, out);
}

template <size_t N>
void require_status(std::string_view status, const std::array<std::string_view, N>& valid, std::string_view what) {
  if (std::find(valid.begin(), valid.end(), status) != valid.end()) return;
  throw Error(ErrorCategory::BadInput,
              fmt::format("unknown {} status '{}'; valid: {}", what, status, fmt::join(valid, ", ")));
}

}  // namespace

std::map<std::string, Json> flatten_params(const Json& nested_by_node) {
  std::map<std::string, Json> out;
  if (nested_by_node.is_null()) return out;
  if (!nested_by_node.is_object()) {
    throw Error(ErrorCategory::BadInput,
                fmt::format("flatten_params: expected an object of nodes, got {}", nested_by_node.type_name()));
  }
  for (const auto& [key, child] : nested_by_node.items()) flatten_into(child, key, out);
  return out;
}

namespace detail {

ParamColumns encode_param(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string: return {"string", value.get<std::string>(), std::nullopt};
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return {"number", value.dump(), value.get<double>()};
    case Json::value_t::boolean: return {"bool", value.dump(), std::nullopt};
    case Json::value_t::null: return {"null", "null", std::nullopt};
    case Json::value_t::array: return {"array", value.dump(), std::nullopt};
    default: return {"object", value.dump(), std::nullopt};
  }
}

Json decode_param(const std::string& type, const std::string& text) {
  if (type == "string") return text;
  return parse_stored_json(text, "param value");
}

std::string json_text(const Json& value) { return value.is_null() ? "{}" : value.dump(); }

Json parse_stored_json(const std::string& text, std::string_view what) {
  if (text.empty()) return Json::object();
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw Error(ErrorCategory::Io, fmt::format("stored {} is not valid JSON: {}", what, e.what()));
  }
}

void require_run_status(std::string_view status) { require_status(status, kRunStatuses, "run"); }
void require_node_status(std::string_view status) { require_status(status, kNodeStatuses, "node run"); }

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace detail

}  // namespace mstar::registry
