// Building an Experiment from its merged document (experiment_doc.cpp):
// structure checks, nodes, the sweep block.
#include <yaml-cpp/yaml.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "config/internal.h"
#include "mstar/error.h"

namespace fs = std::filesystem;

namespace mstar::config {

using detail::Diagnostics;
using detail::hint;
using detail::list_of;
using detail::LocMap;
using detail::OJson;
using detail::pointer_join;

// ------------------------------------------------------------ small types --

InputRef InputRef::parse(std::string_view text) {
  InputRef ref;
  const size_t dot = text.find('.');
  ref.node = std::string(text.substr(0, dot));
  if (dot != std::string_view::npos) ref.output = std::string(text.substr(dot + 1));
  return ref;
}

std::string InputRef::str() const { return output.empty() ? node : node + "." + output; }

SourceLoc NodeSpec::param_loc(const std::string& path) const {
  std::string p = path;
  while (!p.empty()) {
    auto it = param_locs.find(p);
    if (it != param_locs.end()) return it->second;
    const size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p.resize(cut);
  }
  return loc;
}

const NodeSpec* Experiment::find_node(std::string_view n) const {
  for (const auto& node : nodes)
    if (node.name == n) return &node;
  return nullptr;
}

NodeSpec* Experiment::find_node(std::string_view n) {
  for (auto& node : nodes)
    if (node.name == n) return &node;
  return nullptr;
}

std::vector<std::string> Experiment::node_names() const {
  std::vector<std::string> out;
  for (const auto& node : nodes) out.push_back(node.name);
  return out;
}

SourceLoc Experiment::loc_of(const std::string& pointer) const {
  SourceLoc l = detail::loc_lookup(locs, pointer);
  if (l.empty()) l.file = file.string();
  return l;
}

namespace {

const std::vector<std::string> kTopKeys = {"name", "description", "include", "seed", "nodes", "sweep", "launcher"};
const std::vector<std::string> kNodeKeys = {"plugin",  "params", "inputs", "resources",
                                            "timeout", "retries", "seed",   "description"};
const std::vector<std::string> kResourceKeys = {"cpus", "gpus", "mem", "partition", "account", "qos", "sbatch_args"};

bool valid_node_name(const std::string& n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// ---------------------------------------------------------------- building --

void collect_param_locs(const Json& v, const std::string& ptr, const std::string& path,
                        const LocMap& locs, std::map<std::string, SourceLoc>& out) {
  if (v.is_object()) {
    for (auto& [k, x] : v.items()) {
      const std::string p = pointer_join(ptr, k);
      const std::string d = path.empty() ? k : path + "." + k;
      out[d] = detail::loc_lookup(locs, p);
      collect_param_locs(x, p, d, locs, out);
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string p = pointer_join(ptr, std::to_string(i));
      const std::string d = path + "[" + std::to_string(i) + "]";
      out[d] = detail::loc_lookup(locs, p);
      collect_param_locs(v[i], p, d, locs, out);
    }
  }
}

// Drops null entries from maps: null means "absent" (the default applies).
Json strip_nulls(const Json& v) {
  if (!v.is_object()) return v;
  Json out = Json::object();
  for (auto& [k, x] : v.items())
    if (!x.is_null()) out[k] = strip_nulls(x);
  return out;
}

}  // namespace

std::optional<double> detail::parse_duration(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  if (s.empty()) return std::nullopt;
  double scale = 1;
  switch (s.back()) {
    case 's': scale = 1; s.pop_back(); break;
    case 'm': scale = 60; s.pop_back(); break;
    case 'h': scale = 3600; s.pop_back(); break;
    case 'd': scale = 86400; s.pop_back(); break;
    default: break;
  }
  try {
    size_t used = 0;
    double x = std::stod(s, &used);
    if (used != s.size()) return std::nullopt;
    return x * scale;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {

bool is_int(const Json& v) { return v.is_number_integer(); }

}  // namespace

void detail::unknown_keys(const Json& obj, const std::vector<std::string>& known, const std::string& ptr,
                          const std::string& what, const LocMap& locs, Diagnostics& diag, bool allow_x) {
  for (auto& [k, v] : obj.items()) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    if (allow_x && k.rfind("x-", 0) == 0) continue;
    diag.add(detail::loc_lookup(locs, pointer_join(ptr, k)),
             "unknown key '" + k + "' in " + what + hint(k, known) + "; expected one of: " + list_of(known));
  }
}

namespace {

using detail::parse_duration;
using detail::unknown_keys;

NodeSpec build_node(const std::string& name, const Json& v, const LocMap& locs, Diagnostics& diag) {
  NodeSpec node;
  node.name = name;
  const std::string ptr = pointer_join("/nodes", name);
  node.loc = detail::loc_lookup(locs, ptr);
  auto at = [&](const std::string& key) { return detail::loc_lookup(locs, pointer_join(ptr, key)); };
  const std::string where = "node '" + name + "'";
  if (!valid_node_name(name))
    diag.add(node.loc, "node name '" + name + "' is not valid: use letters, digits, '_' and '-', starting with a letter");
  else if (name == "seed")
    diag.add(node.loc, "'seed' is reserved (the trial seed's key); choose another node name");
  if (!v.is_object()) {
    diag.add(node.loc, where + ": expected a map {plugin: KIND/NAME, params: {...}, inputs: {...}}, got " + detail::show(v));
    return node;
  }
  unknown_keys(v, kNodeKeys, ptr, where, locs, diag);

  if (!v.contains("plugin") || v["plugin"].is_null()) {
    diag.add(node.loc, where + ": missing 'plugin' (KIND/NAME, e.g. dataset/implication_world)");
  } else if (!v["plugin"].is_string() || v["plugin"].get<std::string>().find('/') == std::string::npos) {
    diag.add(at("plugin"), name + ".plugin: expected KIND/NAME, got " + detail::show(v["plugin"]));
  } else {
    node.plugin = v["plugin"].get<std::string>();
  }

  if (v.contains("params") && !v["params"].is_null()) {
    if (!v["params"].is_object()) diag.add(at("params"), name + ".params: expected a map, got " + detail::show(v["params"]));
    else node.params = strip_nulls(v["params"]);
    collect_param_locs(node.params, pointer_join(ptr, "params"), "", locs, node.param_locs);
  }

  if (v.contains("inputs") && !v["inputs"].is_null()) {
    const Json& in = v["inputs"];
    if (!in.is_object()) {
      diag.add(at("inputs"), name + ".inputs: expected a map {INPUT: NODE or NODE.OUTPUT}, got " + detail::show(in));
    } else {
      for (auto& [k, ref] : in.items()) {
        if (ref.is_null()) continue;
        const SourceLoc l = detail::loc_lookup(locs, pointer_join(pointer_join(ptr, "inputs"), k));
        if (!ref.is_string() || ref.get<std::string>().empty() || ref.get<std::string>()[0] == '.') {
          diag.add(l, name + ".inputs." + k + ": expected NODE or NODE.OUTPUT, got " + detail::show(ref));
          continue;
        }
        node.inputs[k] = InputRef::parse(ref.get<std::string>());
      }
    }
  }

  if (v.contains("resources") && !v["resources"].is_null()) {
    const Json& r = v["resources"];
    if (!r.is_object()) {
      diag.add(at("resources"), name + ".resources: expected a map {cpus: N, gpus: N}");
    } else {
      unknown_keys(r, kResourceKeys, pointer_join(ptr, "resources"), name + ".resources", locs, diag);
      if (r.contains("cpus")) {
        const Json& c = r["cpus"];
        if (!is_int(c) || c.get<int64_t>() < 1 || c.get<int64_t>() > 4096)
          diag.add(detail::loc_lookup(locs, ptr + "/resources/cpus"),
                   name + ".resources.cpus: expected an int >= 1, got " + detail::show(c));
        else
          node.cpus = static_cast<int>(c.get<int64_t>());
      }
      if (r.contains("gpus")) {
        const Json& g = r["gpus"];
        if (!is_int(g) || g.get<int64_t>() < 0 || g.get<int64_t>() > 64)
          diag.add(detail::loc_lookup(locs, ptr + "/resources/gpus"),
                   name + ".resources.gpus: expected an int from 0 to 64, got " + detail::show(g));
        else
          node.gpus = static_cast<int>(g.get<int64_t>());
      }
      detail::parse_cluster_resources(r, pointer_join(ptr, "resources"), name + ".resources", locs, diag,
                                      node.cluster);
    }
  }

  if (v.contains("timeout") && !v["timeout"].is_null()) {
    auto t = parse_duration(v["timeout"]);
    if (!t || !std::isfinite(*t) || *t < 0)
      diag.add(at("timeout"), name + ".timeout: expected seconds >= 0 (600) or a duration (90s, 10m, 2h), got " +
                                  detail::show(v["timeout"]));
    else
      node.timeout_s = *t;
  }

  if (v.contains("retries") && !v["retries"].is_null()) {
    const Json& r = v["retries"];
    if (!is_int(r) || r.get<int64_t>() < 0 || r.get<int64_t>() > 1000)
      diag.add(at("retries"), name + ".retries: expected an int >= 0, got " + detail::show(r));
    else
      node.retries = static_cast<int>(r.get<int64_t>());
  }

  if (v.contains("seed") && !v["seed"].is_null()) {
    if (!is_int(v["seed"])) diag.add(at("seed"), name + ".seed: expected an int, got " + detail::show(v["seed"]));
    else node.seed = v["seed"].get<int64_t>();
  }

  if (v.contains("description") && !v["description"].is_null()) {
    if (!v["description"].is_string()) diag.add(at("description"), name + ".description: expected a string");
    else node.description = v["description"].get<std::string>();
  }
  return node;
}

}  // namespace

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides) {
  Diagnostics diag;
  Experiment exp;
  exp.file = file;
  std::vector<fs::path> chain;
  detail::Doc doc = detail::load_doc(file, {}, chain, exp.sources, diag);
  diag.throw_if_any();  // a file that does not parse: nothing more to say

  std::vector<std::string> override_keys;
  for (const auto& o : overrides) detail::apply_override(doc, o, diag, override_keys);

  const Json root = detail::to_plain(doc.value);
  const LocMap& locs = doc.locs;
  auto at = [&](const std::string& key) { return detail::loc_lookup(locs, pointer_join("", key)); };
  unknown_keys(root, kTopKeys, "", "the experiment", locs, diag, /*allow_x=*/true);

  exp.name = file.stem().string();
  if (root.contains("name") && !root["name"].is_null()) {
    if (!root["name"].is_string() || root["name"].get<std::string>().empty())
      diag.add(at("name"), "name: expected a non-empty string, got " + detail::show(root["name"]));
    else
      exp.name = root["name"].get<std::string>();
  }
  if (root.contains("description") && !root["description"].is_null()) {
    if (!root["description"].is_string()) diag.add(at("description"), "description: expected a string");
    else exp.description = root["description"].get<std::string>();
  }
  if (root.contains("seed") && !root["seed"].is_null()) {
    if (!root["seed"].is_number_integer()) diag.add(at("seed"), "seed: expected an int, got " + detail::show(root["seed"]));
    else exp.seed = root["seed"].get<int64_t>();
  }

  if (root.contains("launcher") && !root["launcher"].is_null())
    exp.launcher = detail::parse_launcher(root["launcher"], locs, diag);

  if (!doc.value.contains("nodes") || doc.value["nodes"].is_null()) {
    diag.add(detail::loc_lookup(locs, ""), "missing 'nodes': an experiment needs at least one node");
  } else if (!doc.value["nodes"].is_object()) {
    diag.add(at("nodes"), "nodes: expected a map NAME: {plugin: KIND/NAME, ...}");
  } else {
    // The ordered document gives file order.
    for (auto& [name, v] : doc.value["nodes"].items()) {
      if (v.is_null()) continue;  // `name: ~` removes an included node
      exp.nodes.push_back(build_node(name, detail::to_plain(v), locs, diag));
    }
    if (exp.nodes.empty()) diag.add(at("nodes"), "nodes: an experiment needs at least one node");
  }

  exp.sweep = root.contains("sweep") ? root["sweep"] : Json();
  exp.sweep_loc = detail::loc_lookup(locs, "/sweep");
  exp.raw = root;
  exp.locs = locs;
  if (!exp.sweep.is_null()) detail::check_sweep(exp, diag);
  diag.throw_if_any();

  if (!exp.sweep.is_null()) {
    const auto swept = detail::sweep_keys(exp.sweep);
    for (const auto& k : override_keys)
      if (std::find(swept.begin(), swept.end(), k) != swept.end())
        spdlog::warn("override of '{}' sets its base value only: the sweep sets this key in its trials "
                     "(use --set-sweep {}=... to change the swept values)", k, k);
  }
  return exp;
}

}  // namespace mstar::config
