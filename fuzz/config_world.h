// The world the experiment and sweep harnesses load YAML into: the real
// plugins' metadata (fuzz/plugins.json, a snapshot of `mstar plugins info
// --format json`, refreshed by fuzz/update_plugins.sh) and a scratch folder
// holding a copy of experiments/common/, so that the shipped studies of the
// corpus resolve their includes exactly as they do in experiments/.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "config/experiment.h"
#include "fuzz_util.h"
#include "mstar/artifact.h"

namespace mstar::fuzz {

struct ConfigWorld {
  std::vector<PluginInfo> plugins;
  std::vector<std::string> ids;
  config::PluginLookup lookup;
};

inline const ConfigWorld& config_world() {
  static const ConfigWorld world = [] {
    ConfigWorld w;
    const std::filesystem::path source = MSTAR_SOURCE_DIR;
    for (const Json& j : Json::parse(read_file(source / "fuzz" / "plugins.json")))
      w.plugins.push_back(PluginInfo::from_json(j));
    w.ids = config::plugin_ids(w.plugins);
    w.lookup = config::lookup_in(w.plugins);
    std::filesystem::copy(source / "experiments" / "common", scratch_dir() / "common",
                          std::filesystem::copy_options::overwrite_existing |
                              std::filesystem::copy_options::recursive);
    return w;
  }();
  return world;
}

}  // namespace mstar::fuzz
