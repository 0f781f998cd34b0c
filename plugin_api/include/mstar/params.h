// Parameter schema of a plugin and the validated values a node receives.
//
// A schema is data: it serialises to JSON so that `mstar plugins info` and
// the host's validator work without running plugin code. Validation fills in
// defaults, checks types, ranges and choices, and suggests the nearest known
// key for a misspelt one.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mstar/json.h"

namespace mstar {

// Path: a file or directory the node reads. The host makes it absolute
// (relative to the working directory) and puts a fingerprint of its content
// into the cache key, so a changed file is never served from the cache.
enum class ParamType { Bool, Int, Float, String, Enum, List, Map, Plugin, Path };

std::string_view to_string(ParamType type) noexcept;
std::optional<ParamType> param_type_from_string(std::string_view name) noexcept;

// One parameter. Built with the named constructors and chained setters:
//   ParamSpec::integer("rollout_n").def(5).range(1, 1024).describe("samples per prompt")
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::String;
  Json default_value;             // null and !required: the param may be absent.
  bool required = false;
  std::optional<double> min;      // Int and Float only; inclusive.
  std::optional<double> max;
  std::vector<std::string> choices;  // Enum only.
  std::string element_type;       // List only: "int", "float", "string", "bool" or "" (any).
  std::string plugin_kind;        // Plugin only: the kind a nested reference must name.
  std::string doc;

  static ParamSpec boolean(std::string name);
  static ParamSpec integer(std::string name);
  static ParamSpec real(std::string name);
  static ParamSpec string(std::string name);
  static ParamSpec enumeration(std::string name, std::vector<std::string> choices);
  static ParamSpec list(std::string name, std::string element_type = "");
  static ParamSpec map(std::string name);
  static ParamSpec plugin(std::string name, std::string kind);
  static ParamSpec path(std::string name);

  ParamSpec& def(Json value) { default_value = std::move(value); return *this; }
  ParamSpec& require() { required = true; return *this; }
  ParamSpec& range(double lo, double hi) { min = lo; max = hi; return *this; }
  ParamSpec& at_least(double lo) { min = lo; return *this; }
  ParamSpec& describe(std::string text) { doc = std::move(text); return *this; }

  // What values are allowed, for people: "[1, 64]", ">= 0", "qwen|llava", "reward/*".
  std::string allowed() const;

  Json to_json() const;
  static ParamSpec from_json(const Json& j);
};

class ParamSchema {
 public:
  ParamSchema() = default;
  ParamSchema(std::initializer_list<ParamSpec> specs) : specs_(specs) {}

  ParamSchema& add(ParamSpec spec) { specs_.push_back(std::move(spec)); return *this; }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  const ParamSpec* find(std::string_view name) const;

  Json to_json() const;
  static ParamSchema from_json(const Json& j);

 private:
  std::vector<ParamSpec> specs_;
};

// A problem found while validating. `path` is the dotted key inside the
// params map ("reward.format_weight"), so the caller can attach a file:line.
struct ParamIssue {
  std::string path;
  std::string message;
};

// Looks up the schema of a nested plugin reference ("reward/tfq"); returns
// nullptr when no such plugin is known. Supplied by the host.
using SchemaLookup = std::function<const ParamSchema*(const std::string& kind_name)>;

// Validates `given` (a JSON object, possibly null) against `schema`.
// Returns the resolved params (defaults filled in) and appends every problem
// to `issues`; resolution continues past errors so that all are reported.
Json validate_params(const ParamSchema& schema, const Json& given,
                     std::vector<ParamIssue>& issues,
                     const SchemaLookup& nested = nullptr,
                     const std::string& prefix = "");

// The candidate nearest to `word` by edit distance, if it is close enough
// to be a plausible typo; empty otherwise.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Typed read access to validated params. Throws Error(BadInput) when a key
// is missing or has another type: by then validation has run, so this is a
// plugin bug that must surface with the key's name.
class Params {
 public:
  Params() : values_(Json::object()) {}
  explicit Params(Json values) : values_(std::move(values)) {}

  bool has(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  const Json& get(const std::string& key) const;
  const Json& json() const { return values_; }

 private:
  Json values_;
};

}  // namespace mstar
