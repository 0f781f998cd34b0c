// Where things live: MSTAR_HOME (default ./.mstar) holds registry.db,
// store/ (artifacts), logs/ and the plugin probe cache.
#pragma once

#include <filesystem>
#include <string>

namespace mstar {

struct Paths {
  std::filesystem::path home;
  std::filesystem::path registry;  // home/registry.db unless --registry / MSTAR_REGISTRY (a file or a postgresql:// URL)
  std::filesystem::path store;     // home/store unless --store

  std::filesystem::path artifact(const std::string& key) const { return store / key.substr(0, 2) / key; }
  std::filesystem::path staging_root() const { return store / "tmp"; }
  std::filesystem::path resume(const std::string& key) const { return store / "resume" / key; }
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
