#include "mstar/params.h"

#include <algorithm>
#include <cmath>

#include "mstar/error.h"

namespace mstar {

namespace {

struct TypeName {
  ParamType type;
  const char* name;
};
constexpr TypeName kTypeNames[] = {
    {ParamType::Bool, "bool"},     {ParamType::Int, "int"},   {ParamType::Float, "float"},
    {ParamType::String, "string"}, {ParamType::Enum, "enum"}, {ParamType::List, "list"},
    {ParamType::Map, "map"},       {ParamType::Plugin, "plugin"}, {ParamType::Path, "path"},
};

ParamSpec make(std::string name, ParamType type) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = type;
  return s;
}

std::string show(const Json& v) {
  std::string s = v.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

// Bounds are stored as double; 64 reads better than 64.0.
std::string number_text(double x) {
  if (std::nearbyint(x) == x && std::fabs(x) < 9e15) return std::to_string(static_cast<int64_t>(x));
  return Json(x).dump();
}

std::string range_text(const ParamSpec& s) {
  if (s.min && s.max) return " in [" + number_text(*s.min) + ", " + number_text(*s.max) + "]";
  if (s.min) return " >= " + number_text(*s.min);
  if (s.max) return " <= " + number_text(*s.max);
  return "";
}

bool element_ok(const std::string& type, const Json& v) {
  if (type.empty()) return true;
  if (type == "int") return v.is_number_integer();
  if (type == "float") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "bool") return v.is_boolean();
  return true;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Checks one value against its spec; returns the value to keep (ints given
// for floats become floats) or null after reporting an issue.
Json check_value(const ParamSpec& spec, const Json& v, const std::string& path,
                 std::vector<ParamIssue>& issues, const SchemaLookup& nested) {
  auto fail = [&](const std::string& expected) {
    issues.push_back({path, "expected " + expected + ", got " + show(v)});
    return Json();
  };
  switch (spec.type) {
    case ParamType::Bool:
      if (!v.is_boolean()) return fail("bool (true/false)");
      return v;
    case ParamType::Int:
    case ParamType::Float: {
      const bool is_int = spec.type == ParamType::Int;
      if (is_int && !v.is_number_integer()) return fail("int" + range_text(spec));
      if (!is_int && !v.is_number()) return fail("float" + range_text(spec));
      const double x = v.get<double>();
      if (!std::isfinite(x) || (spec.min && x < *spec.min) || (spec.max && x > *spec.max))
        return fail(std::string(is_int ? "int" : "float") + range_text(spec));
      return is_int ? v : Json(x);
    }
    case ParamType::String:
      if (!v.is_string()) return fail("string");
      return v;
    case ParamType::Path:
      if (!v.is_string() || v.get<std::string>().empty()) return fail("a file or directory path");
      return v;
    case ParamType::Enum: {
      std::string joined;
      for (const auto& c : spec.choices) joined += (joined.empty() ? "" : ", ") + c;
      if (!v.is_string() ||
          std::find(spec.choices.begin(), spec.choices.end(), v.get<std::string>()) == spec.choices.end()) {
        std::string hint = v.is_string() ? did_you_mean(v.get<std::string>(), spec.choices) : "";
        issues.push_back({path, "expected one of {" + joined + "}, got " + show(v) +
                                    (hint.empty() ? "" : " (did you mean '" + hint + "'?)")});
        return Json();
      }
      return v;
    }
    case ParamType::List: {
      if (!v.is_array()) return fail("list" + (spec.element_type.empty() ? "" : " of " + spec.element_type));
      for (size_t i = 0; i < v.size(); ++i)
        if (!element_ok(spec.element_type, v[i]))
          issues.push_back({path + "[" + std::to_string(i) + "]",
                            "expected " + spec.element_type + ", got " + show(v[i])});
      return v;
    }
    case ParamType::Map:
      if (!v.is_object()) return fail("map");
      return v;
    case ParamType::Plugin: {
      if (!v.is_object() || !v.contains("plugin") || !v["plugin"].is_string())
        return fail("a plugin reference {plugin: " + spec.plugin_kind + "/NAME, ...params}");
      const std::string ref = v["plugin"].get<std::string>();
      if (!spec.plugin_kind.empty() && ref.rfind(spec.plugin_kind + "/", 0) != 0) {
        issues.push_back({path + ".plugin", "expected a plugin of kind '" + spec.plugin_kind + "', got '" + ref + "'"});
        return Json();
      }
      Json inner = v;
      inner.erase("plugin");
      const ParamSchema* schema = nested ? nested(ref) : nullptr;
      if (!nested) return v;  // no registry available (plugin side): keep as given
      if (!schema) {
        issues.push_back({path + ".plugin", "unknown plugin '" + ref + "'"});
        return Json();
      }
      Json resolved = validate_params(*schema, inner, issues, nested, path + ".");
      resolved["plugin"] = ref;
      return resolved;
    }
  }
  return v;
}

}  // namespace

std::string_view to_string(ParamType type) noexcept {
  for (const auto& t : kTypeNames)
    if (t.type == type) return t.name;
  return "?";
}

std::optional<ParamType> param_type_from_string(std::string_view name) noexcept {
  for (const auto& t : kTypeNames)
    if (name == t.name) return t.type;
  return std::nullopt;
}

ParamSpec ParamSpec::boolean(std::string name) { return make(std::move(name), ParamType::Bool); }
ParamSpec ParamSpec::integer(std::string name) { return make(std::move(name), ParamType::Int); }
ParamSpec ParamSpec::real(std::string name) { return make(std::move(name), ParamType::Float); }
ParamSpec ParamSpec::string(std::string name) { return make(std::move(name), ParamType::String); }
ParamSpec ParamSpec::enumeration(std::string name, std::vector<std::string> choices) {
  ParamSpec s = make(std::move(name), ParamType::Enum);
  s.choices = std::move(choices);
  return s;
}
ParamSpec ParamSpec::list(std::string name, std::string element_type) {
  ParamSpec s = make(std::move(name), ParamType::List);
  s.element_type = std::move(element_type);
  return s;
}
ParamSpec ParamSpec::path(std::string name) { return make(std::move(name), ParamType::Path); }
ParamSpec ParamSpec::map(std::string name) { return make(std::move(name), ParamType::Map); }
ParamSpec ParamSpec::plugin(std::string name, std::string kind) {
  ParamSpec s = make(std::move(name), ParamType::Plugin);
  s.plugin_kind = std::move(kind);
  return s;
}

std::string ParamSpec::allowed() const {
  if (!choices.empty()) {
    std::string s;
    for (const auto& c : choices) s += (s.empty() ? "" : "|") + c;
    return s;
  }
  if (min && max) return "[" + number_text(*min) + ", " + number_text(*max) + "]";
  if (min) return ">= " + number_text(*min);
  if (max) return "<= " + number_text(*max);
  if (!plugin_kind.empty()) return plugin_kind + "/*";
  if (!element_type.empty()) return "list of " + element_type;
  return "";
}

Json ParamSpec::to_json() const {
  Json j{{"name", name}, {"type", std::string(to_string(type))}, {"doc", doc}, {"required", required}};
  j["default"] = default_value;
  if (min) j["min"] = *min;
  if (max) j["max"] = *max;
  if (!choices.empty()) j["choices"] = choices;
  if (!element_type.empty()) j["element_type"] = element_type;
  if (!plugin_kind.empty()) j["plugin_kind"] = plugin_kind;
  return j;
}

ParamSpec ParamSpec::from_json(const Json& j) {
  ParamSpec s;
  s.name = j.at("name").get<std::string>();
  auto type = param_type_from_string(j.at("type").get<std::string>());
  if (!type) throw Error(ErrorCategory::Internal, "param '" + s.name + "': unknown type in metadata");
  s.type = *type;
  s.doc = j.value("doc", "");
  s.required = j.value("required", false);
  s.default_value = j.value("default", Json());
  if (j.contains("min")) s.min = j["min"].get<double>();
  if (j.contains("max")) s.max = j["max"].get<double>();
  s.choices = j.value("choices", std::vector<std::string>{});
  s.element_type = j.value("element_type", "");
  s.plugin_kind = j.value("plugin_kind", "");
  return s;
}

const ParamSpec* ParamSchema::find(std::string_view name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Json ParamSchema::to_json() const {
  Json arr = Json::array();
  for (const auto& s : specs_) arr.push_back(s.to_json());
  return arr;
}

ParamSchema ParamSchema::from_json(const Json& j) {
  ParamSchema schema;
  for (const auto& s : j) schema.add(ParamSpec::from_json(s));
  return schema;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // A third of the word's length, at least 2 edits: catches typos, not
  // unrelated names.
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

Json validate_params(const ParamSchema& schema, const Json& given, std::vector<ParamIssue>& issues,
                     const SchemaLookup& nested, const std::string& prefix) {
  Json out = Json::object();
  if (!given.is_null() && !given.is_object()) {
    issues.push_back({prefix.empty() ? "params" : prefix.substr(0, prefix.size() - 1),
                      "expected a map of params, got " + show(given)});
    return out;
  }
  std::vector<std::string> known;
  for (const auto& spec : schema.specs()) known.push_back(spec.name);
  if (given.is_object()) {
    for (const auto& [key, value] : given.items()) {
      if (schema.find(key)) continue;
      std::string hint = did_you_mean(key, known);
      std::string msg = "unknown param";
      msg += hint.empty() ? "" : " (did you mean '" + hint + "'?)";
      if (hint.empty() && !known.empty()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        msg += "; known params: " + list;
      }
      issues.push_back({prefix + key, msg});
    }
  }
  for (const auto& spec : schema.specs()) {
    const std::string path = prefix + spec.name;
    if (given.is_object() && given.contains(spec.name)) {
      Json v = check_value(spec, given[spec.name], path, issues, nested);
      if (!v.is_null()) out[spec.name] = std::move(v);
      continue;
    }
    if (spec.required) {
      issues.push_back({path, "required param is missing (" + std::string(to_string(spec.type)) + ")"});
      continue;
    }
    if (spec.default_value.is_null()) continue;
    // Defaults of nested plugin references are resolved like given values.
    Json v = spec.type == ParamType::Plugin ? check_value(spec, spec.default_value, path, issues, nested)
                                           : spec.default_value;
    if (!v.is_null()) out[spec.name] = std::move(v);
  }
  return out;
}

bool Params::has(const std::string& key) const { return values_.contains(key) && !values_[key].is_null(); }

const Json& Params::get(const std::string& key) const {
  if (!values_.contains(key)) throw Error(ErrorCategory::Internal, "param '" + key + "' is not set");
  return values_[key];
}

bool Params::get_bool(const std::string& key) const {
  const Json& v = get(key);
  if (!v.is_boolean()) throw Error(ErrorCategory::Internal, "param '" + key + "' is not a bool");
  return v.get<bool>();
}

int64_t Params::get_int(const std::string& key) const {
  const Json& v = get(key);
  if (!v.is_number_integer()) throw Error(ErrorCategory::Internal, "param '" + key + "' is not an int");
  return v.get<int64_t>();
}

double Params::get_float(const std::string& key) const {
  const Json& v = get(key);
  if (!v.is_number()) throw Error(ErrorCategory::Internal, "param '" + key + "' is not a number");
  return v.get<double>();
}

std::string Params::get_string(const std::string& key) const {
  const Json& v = get(key);
  if (!v.is_string()) throw Error(ErrorCategory::Internal, "param '" + key + "' is not a string");
  return v.get<std::string>();
}

}  // namespace mstar
