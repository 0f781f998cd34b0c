// The order of values on an axis: a categorical param such as a model size
// reads S, M, L as the sweep lists it, not L, M, S as strings sort.
#include <algorithm>

#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"

namespace mstar::registry {

namespace {

// Filters name values of a key without defining the axis: read them last, so
// that `exclude: [{size: L}]` cannot put L first.
bool is_filter(const std::string& construct) { return construct == "exclude" || construct == "when"; }

void add_values(const Json& value, std::vector<std::string>& out) {
  if (value.is_string()) out.push_back(value.get<std::string>());
  else if (value.is_array())
    for (const Json& v : value) add_values(v, out);
  else if (value.is_object() && value.contains("choice"))  // random: {choice: [...]}
    add_values(value.at("choice"), out);
}

// The string values given to `key` anywhere in a sweep block, in the order
// they appear (grid, zip and points lists keep their file order).
void collect(const Json& node, const std::string& key, bool with_filters, std::vector<std::string>& out) {
  if (node.is_array()) {
    for (const Json& item : node) collect(item, key, with_filters, out);
    return;
  }
  if (!node.is_object()) return;
  for (const auto& [name, value] : node.items()) {
    if (!with_filters && is_filter(name)) continue;
    if (name == key) add_values(value, out);
    else collect(value, key, with_filters, out);
  }
}

}  // namespace

int Results::compare_on_axis(const Field& field, const Value& a, const Value& b) {
  const auto* sa = std::get_if<std::string>(&a);
  const auto* sb = std::get_if<std::string>(&b);
  if (field.kind != FieldKind::Param || !sa || !sb) return compare_for_sort(a, b);
  if (!sweep_configs_loaded_) {
    // The sweeps of the selected runs, those named as targets first.
    std::vector<std::string> ids = sweep_ids_;
    for (const Run& r : runs_)
      if (!r.sweep_id.empty() && std::find(ids.begin(), ids.end(), r.sweep_id) == ids.end()) ids.push_back(r.sweep_id);
    for (const std::string& id : ids)
      if (auto sweep = reg_.get_sweep(id)) {
        // The registry keeps the whole experiment; its `sweep:` block lists the values.
        const Json& config = sweep->config;
        sweep_configs_.push_back(config.is_object() && config.contains("sweep") ? config.at("sweep") : config);
      }
    sweep_configs_loaded_ = true;
  }
  auto it = axis_ranks_.find(field.key);
  if (it == axis_ranks_.end()) {
    std::vector<std::string> listed;
    for (bool with_filters : {false, true})
      for (const Json& config : sweep_configs_) collect(config, field.key, with_filters, listed);
    std::map<std::string, size_t> ranks;
    for (const std::string& v : listed) ranks.emplace(v, ranks.size());
    it = axis_ranks_.emplace(field.key, std::move(ranks)).first;
  }
  const auto ra = it->second.find(*sa), rb = it->second.find(*sb);
  const bool has_a = ra != it->second.end(), has_b = rb != it->second.end();
  if (has_a && has_b) return ra->second < rb->second ? -1 : (ra->second > rb->second ? 1 : 0);
  if (has_a != has_b) return has_a ? -1 : 1;
  return compare_for_sort(a, b);
}

bool Results::less_on_axes(const std::vector<Field>& fields, const std::vector<Value>& a,
                           const std::vector<Value>& b) {
  for (size_t i = 0; i < fields.size() && i < a.size() && i < b.size(); ++i)
    if (const int c = compare_on_axis(fields[i], a[i], b[i])) return c < 0;
  return a.size() < b.size();
}

std::vector<Value> Results::axis_values(const Field& field) {
  std::vector<Value> values;
  for (const Value& v : column(field))
    if (!is_missing(v)) values.push_back(v);
  std::sort(values.begin(), values.end(),
            [&](const Value& a, const Value& b) { return compare_on_axis(field, a, b) < 0; });
  values.erase(std::unique(values.begin(), values.end(),
                           [](const Value& a, const Value& b) { return compare_for_sort(a, b) == 0; }),
               values.end());
  return values;
}

}  // namespace mstar::registry
