// Sweeps, trials: applying a trial's assignment to the base config, its
// label, and resolving every trial's graph. Parsing, expansion, narrowing and
// keys are in sweep_parse.cpp, sweep_expand.cpp, sweep_narrow.cpp and
// sweep_keys.cpp, over the parsed form of sweep_ast.h.
#include <set>

#include "config/sweep_ast.h"
#include "mstar/error.h"

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::pointer_join;

namespace {

// Sets `value` at the dotted path `segs` below `root` (creating maps); a null
// value erases the key. Returns the first segment that is not a map, if any.
std::optional<std::string> set_path(Json& root, const std::vector<std::string>& segs, const Json& value) {
  Json* cur = &root;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    if (!cur->is_object()) return segs[i > 0 ? i - 1 : 0];
    Json& next = (*cur)[segs[i]];
    if (next.is_null()) next = Json::object();
    if (!next.is_object()) return segs[i];
    cur = &next;
  }
  if (value.is_null()) cur->erase(segs.back());
  else (*cur)[segs.back()] = value;
  return std::nullopt;
}

}  // namespace

Experiment apply_assignment(const Experiment& exp, const Trial& trial) {
  Experiment out = exp;
  Diagnostics diag;
  // Where each key is swept, for messages about its values.
  std::map<std::string, SourceLoc> key_locs;
  {
    Diagnostics ignored;
    for (const auto& use : sweeps::parse(exp, ignored).uses) key_locs.emplace(use.key, use.loc);
  }
  for (auto& [key, value] : trial.assignment.items()) {
    if (key == "seed") continue;
    const SourceLoc loc = key_locs.count(key) ? key_locs[key] : exp.sweep_loc;
    const size_t dot = key.find('.');
    NodeSpec* node = dot == std::string::npos ? nullptr : out.find_node(key.substr(0, dot));
    if (!node) {
      diag.add(loc, "assignment key '" + key + "': unknown node" + hint(key.substr(0, dot), out.node_names()));
      continue;
    }
    const std::string rest = key.substr(dot + 1);
    Json& raw_node = out.raw["nodes"][node->name];
    if (rest == "plugin") {
      if (!value.is_string()) {
        diag.add(loc, key + ": expected a plugin id KIND/NAME, got " + detail::show(value));
        continue;
      }
      node->plugin = value.get<std::string>();
      raw_node["plugin"] = value;
      out.locs[pointer_join(pointer_join("/nodes", node->name), "plugin")] = loc;
      continue;
    }
    const auto segs = detail::split(rest, '.');
    if (auto bad = set_path(node->params, segs, value)) {
      diag.add(loc, key + ": param '" + *bad + "' of node '" + node->name + "' is not a map");
      continue;
    }
    if (!raw_node.contains("params") || !raw_node["params"].is_object()) raw_node["params"] = Json::object();
    set_path(raw_node["params"], segs, value);
    for (auto it = node->param_locs.lower_bound(rest); it != node->param_locs.end();) {
      if (it->first != rest && it->first.rfind(rest + ".", 0) != 0 && it->first.rfind(rest + "[", 0) != 0) break;
      it = node->param_locs.erase(it);
    }
    node->param_locs[rest] = loc;
  }
  out.seed = trial.seed;
  out.raw["seed"] = trial.seed;
  diag.throw_if_any();
  return out;
}

std::string trial_label(const Trial& trial) {
  std::string out;
  for (auto& [k, v] : trial.assignment.items()) {
    if (k == "seed") continue;
    if (!out.empty()) out += ' ';
    out += k + "=" + detail::value_text(v);
  }
  if (!out.empty()) out += ' ';
  return out + "seed=" + std::to_string(trial.seed);
}

std::vector<ResolvedGraph> resolve_trials(const Experiment& exp, const std::vector<Trial>& trials,
                                          const PluginLookup& lookup, const std::vector<std::string>& known_ids) {
  std::vector<ResolvedGraph> out;
  std::vector<std::string> lines;
  std::set<std::string> seen;
  for (const auto& t : trials) {
    try {
      out.push_back(resolve_graph(apply_assignment(exp, t), lookup, known_ids));
    } catch (const Error& e) {
      if (!e.is_bad_input()) throw;
      for (const auto& line : detail::split(e.what(), '\n'))
        if (seen.insert(line).second)
          lines.push_back(trials.size() > 1 ? line + " (trial " + trial_label(t) + ")" : line);
    }
  }
  if (!lines.empty()) throw_bad_input(detail::join(lines, "\n"));
  return out;
}

}  // namespace mstar::config
