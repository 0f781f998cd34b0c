// Validation of an experiment against plugin metadata: params, wiring,
// cycles, topological order.
#include <algorithm>
#include <set>

#include "config/internal.h"
#include "mstar/error.h"

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::list_of;
using detail::pointer_join;

PluginLookup lookup_in(const std::vector<PluginInfo>& plugins) {
  return [&plugins](const std::string& id) -> const PluginInfo* {
    for (const auto& p : plugins)
      if (p.id() == id) return &p;
    return nullptr;
  };
}

std::vector<std::string> plugin_ids(const std::vector<PluginInfo>& plugins) {
  std::vector<std::string> ids;
  for (const auto& p : plugins) ids.push_back(p.id());
  return ids;
}

const NodeSpec* ResolvedGraph::find(std::string_view name) const {
  for (const auto& n : nodes)
    if (n.name == name) return &n;
  return nullptr;
}

namespace {

std::string plugin_hint(const std::string& id, const std::vector<std::string>& known_ids) {
  std::string h = hint(id, known_ids);
  if (!h.empty()) return h;
  // Same name under another kind, or another name of the same kind.
  const size_t slash = id.find('/');
  const std::string name = slash == std::string::npos ? id : id.substr(slash + 1);
  for (const auto& k : known_ids) {
    const size_t s = k.find('/');
    if (s != std::string::npos && k.substr(s + 1) == name) return " (did you mean '" + k + "'?)";
  }
  return "";
}

std::string input_names(const PluginInfo& info) {
  std::vector<std::string> names;
  for (const auto& i : info.inputs) names.push_back(i.name + (i.required ? "" : " (optional)"));
  return list_of(names);
}

const OutputSpec* find_output(const PluginInfo& info, const std::string& name) {
  for (const auto& o : info.outputs)
    if (o.name == name) return &o;
  return nullptr;
}

// A nested plugin param given without `plugin:` ({format_weight: 0.2}, as a
// sweep or an override of `train.reward.format_weight` produces) refers to
// the plugin of the param's default: complete it with that default.
Json fill_plugin_defaults(const ParamSchema& schema, const Json& given, const PluginLookup& lookup, int depth = 0) {
  if (!given.is_object() || depth > 16) return given;
  Json out = given;
  for (const auto& spec : schema.specs()) {
    if (spec.type != ParamType::Plugin || !out.contains(spec.name) || !out[spec.name].is_object()) continue;
    Json& v = out[spec.name];
    if (!v.contains("plugin") && spec.default_value.is_object() && spec.default_value.contains("plugin")) {
      Json merged = spec.default_value;
      for (auto& [k, x] : v.items()) merged[k] = x;
      v = std::move(merged);
    }
    if (v.contains("plugin") && v["plugin"].is_string() && lookup)
      if (const PluginInfo* p = lookup(v["plugin"].get<std::string>())) v = fill_plugin_defaults(p->params, v, lookup, depth + 1);
  }
  return out;
}

// A `device` param against the node's resources.gpus. The host checks it
// before anything runs because it has no LibTorch and, under a cluster
// launcher, no GPU of its own to ask: a GPU must be asked for with the node.
// "" (as the checkpoint says) and "auto" (a GPU when the node has one) pass.
std::string device_problem(const std::string& device, int gpus) {
  if (device.empty() || device == "cpu" || device == "auto") return "";
  if (device.rfind("cuda", 0) != 0)
    return "expected cpu, cuda, cuda:N or auto, got \"" + device + "\"";
  long index = 0;
  if (device.size() > 4) {
    const std::string n = device.substr(5);
    if (device[4] != ':' || n.empty() || n.size() > 3 || n.find_first_not_of("0123456789") != std::string::npos)
      return "expected cpu, cuda, cuda:N or auto, got \"" + device + "\"";
    index = std::stol(n);
  }
  if (gpus == 0)
    return "\"" + device + "\" needs a GPU, and the node asks for none: add resources: {gpus: " +
           std::to_string(index + 1) + "} to the node (or use device: auto)";
  if (index >= gpus)
    return "\"" + device + "\" is GPU " + std::to_string(index) + " of the node's own, and it asks for " +
           std::to_string(gpus) + " (resources.gpus; its GPUs are numbered from 0)";
  return "";
}

}  // namespace

ResolvedGraph resolve_graph(const Experiment& exp, const PluginLookup& lookup,
                            const std::vector<std::string>& known_ids) {
  Diagnostics diag;
  const size_t n = exp.nodes.size();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) index[exp.nodes[i].name] = i;
  const std::vector<std::string> names = exp.node_names();

  const SchemaLookup nested = [&lookup](const std::string& id) -> const ParamSchema* {
    const PluginInfo* p = lookup ? lookup(id) : nullptr;
    return p ? &p->params : nullptr;
  };

  ResolvedGraph out;
  std::vector<NodeSpec> nodes = exp.nodes;
  std::vector<const PluginInfo*> infos(n, nullptr);

  // Plugins and params.
  for (size_t i = 0; i < n; ++i) {
    NodeSpec& node = nodes[i];
    const std::string ptr = pointer_join("/nodes", node.name);
    const SourceLoc plugin_loc = exp.loc_of(ptr + "/plugin").empty() ? node.loc : exp.loc_of(ptr + "/plugin");
    infos[i] = lookup ? lookup(node.plugin) : nullptr;
    if (!infos[i]) {
      diag.add(plugin_loc, node.name + ".plugin: unknown plugin '" + node.plugin + "'" +
                               plugin_hint(node.plugin, known_ids) +
                               (known_ids.empty() ? "" : "; known plugins: " + list_of(known_ids)));
      continue;
    }
    std::vector<ParamIssue> issues;
    Json resolved =
        validate_params(infos[i]->params, fill_plugin_defaults(infos[i]->params, node.params, lookup), issues, nested);
    for (const auto& issue : issues)
      diag.add(node.param_loc(issue.path), node.name + "." + issue.path + ": " + issue.message + " [" +
                                               node.plugin + "]");
    if (resolved.is_object() && resolved.contains("device") && resolved["device"].is_string())
      if (std::string why = device_problem(resolved["device"].get<std::string>(), node.gpus); !why.empty())
        diag.add(node.param_loc("device"), node.name + ".device: " + why + " [" + node.plugin + "]");
    node.params = std::move(resolved);
  }

  // Wiring. Edges point from producer to consumer.
  std::vector<std::vector<size_t>> consumers(n);
  std::vector<size_t> indegree(n, 0);
  for (size_t i = 0; i < n; ++i) {
    const NodeSpec& node = nodes[i];
    const PluginInfo* info = infos[i];
    const std::string ptr = pointer_join("/nodes", node.name);
    for (const auto& [in_name, ref] : node.inputs) {
      const SourceLoc loc = exp.loc_of(pointer_join(ptr + "/inputs", in_name));
      const std::string key = node.name + ".inputs." + in_name;
      const InputSpec* in_spec = nullptr;
      if (info) {
        for (const auto& s : info->inputs)
          if (s.name == in_name) in_spec = &s;
        if (!in_spec) {
          std::vector<std::string> declared;
          for (const auto& s : info->inputs) declared.push_back(s.name);
          diag.add(loc, key + ": " + node.plugin +
                            (declared.empty() ? " takes no inputs"
                                              : " has no input '" + in_name + "'" + hint(in_name, declared) +
                                                    "; inputs: " + input_names(*info)));
        }
      }
      auto it = index.find(ref.node);
      if (it == index.end()) {
        diag.add(loc, key + ": unknown node '" + ref.node + "'" + hint(ref.node, names) + "; nodes: " + list_of(names));
        continue;
      }
      const size_t p = it->second;
      if (std::find(consumers[p].begin(), consumers[p].end(), i) == consumers[p].end()) {
        consumers[p].push_back(i);
        ++indegree[i];
      }
      const PluginInfo* producer = infos[p];
      if (!producer) continue;
      const OutputSpec* out_spec = find_output(*producer, ref.output);
      if (!ref.output.empty() && !producer->outputs.empty() && !out_spec) {
        std::vector<std::string> outs;
        for (const auto& o : producer->outputs)
          if (!o.name.empty()) outs.push_back(o.name);
        diag.add(loc, key + ": node '" + ref.node + "' (" + producer->id() + ") has no output '" + ref.output + "'" +
                          hint(ref.output, outs) + "; outputs: " + (outs.empty() ? "(root only)" : list_of(outs)));
        continue;
      }
      if (in_spec && out_spec && !in_spec->type.empty() && !out_spec->type.empty() && in_spec->type != out_spec->type)
        diag.add(loc, key + ": expects a '" + in_spec->type + "' artifact, but '" + ref.str() + "' (" + producer->id() +
                          ") produces '" + out_spec->type + "'");
    }
    if (info) {
      for (const auto& s : info->inputs)
        if (s.required && !node.inputs.count(s.name))
          diag.add(node.loc, node.name + ": missing required input '" + s.name + "'" +
                                 (s.type.empty() ? "" : " (a '" + s.type + "' artifact)") + " of " + node.plugin +
                                 "; add inputs: {" + s.name + ": NODE}");
    }
  }

  // Cycles: depth-first search in file order; each cycle reported once,
  // starting at its earliest node in file order.
  {
    std::vector<int> color(n, 0);  // 0 new, 1 on stack, 2 done
    std::vector<size_t> stack;
    std::set<std::vector<size_t>> seen;
    std::function<void(size_t)> visit = [&](size_t u) {
      color[u] = 1;
      stack.push_back(u);
      for (size_t v : consumers[u]) {
        if (color[v] == 0) {
          visit(v);
        } else if (color[v] == 1) {
          auto from = std::find(stack.begin(), stack.end(), v);
          std::vector<size_t> cycle(from, stack.end());
          std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
          if (!seen.insert(cycle).second) continue;
          std::vector<std::string> text;
          for (size_t c : cycle) text.push_back(nodes[c].name);
          text.push_back(nodes[cycle.front()].name);
          diag.add(nodes[cycle.front()].loc, "dependency cycle: " + detail::join(text, " -> "));
        }
      }
      stack.pop_back();
      color[u] = 2;
    };
    for (size_t i = 0; i < n; ++i)
      if (color[i] == 0) visit(i);
  }

  diag.throw_if_any();

  // Kahn's algorithm, ready nodes taken in file order.
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (indegree[i] == 0) ready.insert(i);
  while (!ready.empty()) {
    const size_t u = *ready.begin();
    ready.erase(ready.begin());
    out.nodes.push_back(nodes[u]);
    out.plugins.push_back(infos[u]);
    for (size_t v : consumers[u])
      if (--indegree[v] == 0) ready.insert(v);
  }
  return out;
}

}  // namespace mstar::config
