// Sweeps, keys: the keys a sweep varies, their base values, and their check
// against the plugins' schemas.
#include <algorithm>
#include <map>

#include "config/sweep_ast.h"

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::list_of;

namespace detail {

std::optional<Json> base_value(const Experiment& exp, const std::string& key) {
  const size_t dot = key.find('.');
  if (dot == std::string::npos) return std::nullopt;
  const NodeSpec* node = exp.find_node(key.substr(0, dot));
  if (!node) return std::nullopt;
  const std::string rest = key.substr(dot + 1);
  if (rest == "plugin") return Json(node->plugin);
  const Json* cur = &node->params;
  for (const auto& seg : split(rest, '.')) {
    if (!cur->is_object() || !cur->contains(seg)) return std::nullopt;
    cur = &(*cur)[seg];
  }
  return *cur;
}

std::vector<std::string> sweep_keys(const Json& sweep) {
  const auto keys = sweeps::block_keys(sweeps::parse_checked(sweep).root, false);
  return {keys.begin(), keys.end()};
}

}  // namespace detail

void validate_sweep_keys(const Experiment& exp, const PluginLookup& lookup, const std::vector<std::string>& known_ids) {
  Diagnostics diag;
  const sweeps::Sweep s = sweeps::parse(exp, diag);
  if (!lookup) {
    diag.throw_if_any();
    return;
  }
  // The plugins each node may run: its own and any swept choice.
  std::map<std::string, std::vector<std::string>> plugins_of;
  auto add_plugin = [&](const std::string& key, const Json& v) {
    if (!v.is_string()) return;
    auto& list = plugins_of[key];
    if (std::find(list.begin(), list.end(), v.get<std::string>()) == list.end()) list.push_back(v.get<std::string>());
  };
  for (const auto& node : exp.nodes) add_plugin(node.name + ".plugin", node.plugin);
  for (const auto& use : s.uses)
    if (use.key.size() > 7 && use.key.compare(use.key.size() - 7, 7, ".plugin") == 0)
      for (const auto& v : use.values) add_plugin(use.key, v);

  auto schemas_for = [&](const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, const ParamSchema*>> out;
    for (const auto& id : ids)
      if (const PluginInfo* p = lookup(id)) out.push_back({id, &p->params});
    return out;
  };

  // A swept plugin choice (NODE.plugin or a nested PARAM.plugin) must exist.
  auto check_plugin_values = [&](const sweeps::KeyUse& use) {
    for (const auto& v : use.values)
      if (v.is_string() && !lookup(v.get<std::string>()))
        diag.add(use.loc, "sweep key '" + use.key + "': unknown plugin '" + v.get<std::string>() + "'" +
                              hint(v.get<std::string>(), known_ids));
  };

  for (const auto& use : s.uses) {
    const size_t dot = use.key.find('.');
    const std::string node = use.key.substr(0, dot);
    const std::string rest = use.key.substr(dot + 1);
    const auto segs = detail::split(rest, '.');
    if (rest == "plugin") {
      check_plugin_values(use);
      continue;
    }
    // Walk the path through the schemas; nested plugin references switch
    // to the referenced plugin's schema.
    auto schemas = schemas_for(plugins_of[node + ".plugin"]);
    std::string prefix = node;
    for (size_t i = 0; i < segs.size() && !schemas.empty(); ++i) {
      std::vector<const ParamSpec*> specs;
      std::vector<std::string> known, owners;
      for (const auto& [id, schema] : schemas) {
        owners.push_back(id);
        for (const auto& spec : schema->specs()) {
          known.push_back(spec.name);
          if (spec.name == segs[i]) specs.push_back(&spec);
        }
      }
      if (specs.empty()) {
        std::sort(known.begin(), known.end());
        known.erase(std::unique(known.begin(), known.end()), known.end());
        diag.add(use.loc, "sweep key '" + use.key + "': " + detail::join(owners, " / ") + " has no param '" + segs[i] +
                              "'" + hint(segs[i], known) + "; params: " + (known.empty() ? "(none)" : list_of(known)));
        break;
      }
      prefix += "." + segs[i];
      if (i + 1 == segs.size()) break;
      const ParamSpec* spec = specs.front();
      if (spec->type == ParamType::Map) break;  // free-form below
      if (spec->type != ParamType::Plugin) {
        diag.add(use.loc, "sweep key '" + use.key + "': param '" + prefix.substr(node.size() + 1) + "' is a " +
                              std::string(to_string(spec->type)) + ", it has no field '" + segs[i + 1] + "'");
        break;
      }
      if (segs[i + 1] == "plugin" && i + 2 == segs.size()) {
        check_plugin_values(use);
        break;
      }
      std::vector<std::string> ids;
      if (auto b = detail::base_value(exp, prefix + ".plugin"); b && b->is_string()) ids.push_back(b->get<std::string>());
      if (spec->default_value.is_object() && spec->default_value.contains("plugin") &&
          spec->default_value["plugin"].is_string())
        ids.push_back(spec->default_value["plugin"].get<std::string>());
      auto swept = plugins_of.find(prefix + ".plugin");
      if (swept != plugins_of.end()) ids.insert(ids.end(), swept->second.begin(), swept->second.end());
      schemas = schemas_for(ids);
    }
  }
  diag.throw_if_any();
}

}  // namespace mstar::config
