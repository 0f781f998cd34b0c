// Where things live: MSTAR_HOME (default ./.mstar) holds registry.db,
// store/ (artifacts), logs/ and the plugin probe cache.
#pragma once

#include <filesystem>
#include <string>

#include "store/artifact_store.h"

namespace mstar {

struct Paths {
  std::filesystem::path home;
  std::filesystem::path registry;  // home/registry.db unless --registry / MSTAR_REGISTRY (a file or a postgresql:// URL)
  std::filesystem::path store;     // home/store unless --store

  ArtifactStore artifacts() const { return ArtifactStore(store); }
  std::filesystem::path logs() const { return home / "logs"; }
  std::filesystem::path log(const std::string& key) const { return logs() / (key + ".log"); }
};

// Resolves MSTAR_HOME and the two overrides (empty = default).
Paths resolve_paths(const std::string& registry_flag, const std::string& store_flag);

// The running mstar executable, for spawning `mstar exec-node`.
std::filesystem::path self_executable();
// Built-in plugin directory: <exe>/plugins in the build tree,
// <exe>/../lib/mstar/plugins when installed.
std::filesystem::path builtin_plugin_dir();

}  // namespace mstar
