#include "exec/plan.h"
#include "store/artifact_store.h"

#include <set>

#include "plugins/catalog.h"
#include "util/fingerprint.h"
#include "util/hash.h"

namespace mstar {

namespace fs = std::filesystem;

namespace {

std::string input_ref(const std::string& key, const std::string& output) {
  return output.empty() ? key : key + "/" + output;
}

// Params of type `path`: absolute (relative to the working directory) in
// the node's params, and a content fingerprint in its cache key. One
// fingerprint per distinct path and run: trials share the file.
void resolve_path_params(const config::NodeSpec& node, const PluginInfo& info, NodeInstance& inst,
                   std::map<std::string, std::string>& fingerprints) {
  for (const auto& spec : info.params.specs()) {
    if (spec.type != ParamType::Path || !inst.params.contains(spec.name)) continue;
    const fs::path abs = fs::absolute(inst.params[spec.name].get<std::string>()).lexically_normal();
    if (!fs::exists(abs))
      throw_bad_input(node.param_loc(spec.name).str() + ": " + node.name + "." + spec.name + ": no such file or directory: " +
                      abs.string());
    auto [it, fresh] = fingerprints.try_emplace(abs.string());
    if (fresh) it->second = fingerprint_path(abs);
    inst.params[spec.name] = abs.string();
    inst.fingerprints[spec.name] = it->second;
  }
}

}  // namespace

std::string node_cache_key(const NodeInstance& n) {
  Json identity = {{"plugin", n.plugin}, {"version", n.plugin_version}, {"params", n.params}, {"seed", n.seed},
                   {"inputs", n.inputs}, {"format", 1}};
  if (!n.fingerprints.empty()) identity["files"] = n.fingerprints;
  if (!n.libtorch.empty()) identity["libtorch"] = n.libtorch;
  return ArtifactStore::cache_key(identity);
}

Plan make_plan(const PlanRequest& request, const PluginCatalog& catalog) {
  return make_plan(request, catalog.plugins());
}

Plan make_plan(const PlanRequest& request, const std::map<std::string, LoadedPlugin>& plugins) {
  config::Experiment exp = config::load_experiment(request.file, request.overrides);
  if (!request.set_sweep.empty()) config::narrow_sweep(exp, request.set_sweep);

  auto find = [&plugins](const std::string& id) -> const LoadedPlugin* {
    auto it = plugins.find(id);
    return it == plugins.end() ? nullptr : &it->second;
  };
  config::PluginLookup lookup = [&](const std::string& id) -> const PluginInfo* {
    const LoadedPlugin* p = find(id);
    return p ? &p->info : nullptr;
  };
  std::vector<std::string> ids;
  for (const auto& [id, _] : plugins) ids.push_back(id);
  config::validate_sweep_keys(exp, lookup, ids);

  Plan plan;
  plan.name = exp.name;
  plan.sweep_id = exp.name;
  plan.file = request.file;
  plan.raw_config = exp.raw;
  plan.launcher = exp.launcher;

  auto note_library = [&plan](const std::string& id, const LoadedPlugin& p) {
    plan.libraries[id] = {{"library", p.library.string()}, {"sha256", p.sha256}};
  };
  for (const auto& [id, p] : plugins) {
    if (p.info.interface_name.empty()) continue;
    plan.components[id] = p.library;
    note_library(id, p);
  }
  for (const auto& node : exp.nodes) {
    const LoadedPlugin* p = find(node.plugin);
    if (p && !p->info.interface_name.empty())
      throw_bad_input(node.loc.str() + ": node '" + node.name + "': " + node.plugin + " is a " +
                      p->info.interface_name + " component, not a node; name it inside a node's params, e.g. "
                      "reward: {plugin: " + node.plugin + "}");
  }

  const std::vector<config::Trial> trials = config::expand_sweep(exp);
  std::set<std::string> seen_trials;
  std::map<std::string, std::string> fingerprints;
  for (const auto& trial : trials) {
    config::Experiment texp = config::apply_assignment(exp, trial);
    config::ResolvedGraph graph = config::resolve_graph(texp, lookup, ids);

    PlannedTrial pt;
    pt.assignment = trial.assignment;
    pt.seed = trial.seed;
    pt.label = config::trial_label(trial);
    pt.config = Json::object();
    std::map<std::string, std::string> key_of;
    std::vector<NodeInstance> built;
    for (const auto& node : graph.nodes) {
      const LoadedPlugin& plugin = *find(node.plugin);  // resolve_graph has checked every id
      NodeInstance inst;
      inst.plugin = node.plugin;
      inst.plugin_version = plugin.info.version;
      inst.libtorch = plugin.libtorch;
      inst.library = plugin.library;
      note_library(node.plugin, plugin);
      inst.params = node.params;
      inst.cpus = std::max(1, node.cpus);
      inst.gpus = node.gpus;
      inst.cluster = node.cluster;
      inst.timeout_s = node.timeout_s;
      inst.retries = node.retries;
      inst.seed = static_cast<uint64_t>(node.effective_seed(trial.seed));
      for (const auto& [name, ref] : node.inputs) {
        const std::string& up = key_of.at(ref.node);
        inst.inputs[name] = input_ref(up, ref.output);
        inst.deps.push_back(up);
      }
      resolve_path_params(node, plugin.info, inst, fingerprints);
      inst.key = node_cache_key(inst);
      key_of[node.name] = inst.key;
      pt.nodes.emplace_back(node.name, inst.key);
      pt.config[node.name] = {{"plugin", inst.plugin}, {"params", inst.params}, {"inputs", inst.inputs},
                              {"seed", inst.seed},     {"key", inst.key}};
      built.push_back(std::move(inst));
    }
    pt.id = sha1_hex(Json{{"name", exp.name}, {"nodes", pt.config}}.dump()).substr(0, 12);
    // Two assignments that resolve to the same graph are one trial.
    if (!seen_trials.insert(pt.id).second) continue;

    const size_t index = plan.trials.size();
    for (size_t i = 0; i < built.size(); ++i) {
      const std::string key = built[i].key;
      auto [it, inserted] = plan.instances.try_emplace(key, std::move(built[i]));
      if (inserted) plan.order.push_back(it->first);
      it->second.users.emplace_back(index, pt.nodes[i].first);
    }
    plan.trials.push_back(std::move(pt));
  }
  return plan;
}

}  // namespace mstar
