// From an experiment file to node instances: expands the sweep into trials,
// validates every trial's graph up front, and computes each node's cache key
// = hash(plugin id and version, validated params, seed, input keys). Node
// instances with equal keys are one instance, shared by every trial that
// contains them: this is the whole of "shared upstream work runs once".
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/experiment.h"
#include "mstar/json.h"

namespace mstar {

class PluginCatalog;
struct LoadedPlugin;

struct NodeInstance {
  std::string key;
  std::string plugin, plugin_version;
  // LibTorch the plugin library was built against ("" for none): part of the
  // cache key, so an upgrade never reuses an artifact made by another one.
  std::string libtorch;
  std::filesystem::path library;
  Json params;
  Json fingerprints = Json::object();         // path param -> content fingerprint (part of the key)
  std::map<std::string, std::string> inputs;  // input name -> upstream key + "/" + output (or just key)
  std::vector<std::string> deps;              // upstream keys
  int cpus = 1;
  int gpus = 0;
  config::ClusterResources cluster;  // where a cluster launcher puts it; not in the key
  double timeout_s = 0;
  int retries = 0;
  uint64_t seed = 0;
  std::vector<std::pair<size_t, std::string>> users;  // (trial index, node name)
};

struct PlannedTrial {
  std::string id;     // hash of the resolved config: re-running the same file finds it again
  std::string label;  // the varied params, "base.size=S seed=1"
  Json assignment;
  int64_t seed = 0;
  Json config;  // resolved nodes: {node: {plugin, params, inputs, seed, key}}
  std::vector<std::pair<std::string, std::string>> nodes;  // (node name, key), topological
};

struct Plan {
  std::string sweep_id;  // the experiment name
  std::string name;
  std::filesystem::path file;
  Json raw_config;
  config::LauncherConfig launcher;  // the file's `launcher:`
  std::vector<PlannedTrial> trials;
  std::map<std::string, NodeInstance> instances;
  std::vector<std::string> order;  // instance keys, dependencies first
  std::map<std::string, std::filesystem::path> components;  // component plugin id -> library
  // plugin id -> {"library": path, "sha256": hex} for every node plugin the
  // plan uses and every component: each run records its own in env_json.
  Json libraries = Json::object();
};

struct PlanRequest {
  std::filesystem::path file;
  std::vector<std::string> overrides;   // key=value
  std::vector<std::string> set_sweep;   // key=a,b,c
};

// Throws Error(BadInput) listing every problem with its file:line.
Plan make_plan(const PlanRequest& request, const PluginCatalog& catalog);
// The same over plugins already known by id (tests build them in memory).
Plan make_plan(const PlanRequest& request, const std::map<std::string, LoadedPlugin>& plugins);

// Canonical identity strings (exposed for tests).
std::string node_cache_key(const NodeInstance& node);

}  // namespace mstar
