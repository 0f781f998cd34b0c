// Plugin discovery. Libraries are probed in a child process (`mstar
// probe-plugin LIB`), so a library that crashes in its static initialisers,
// or drags LibTorch in, never touches the host process. Probe results are
// cached by (path, size, mtime) in MSTAR_HOME/plugin-cache.json.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mstar/plugin.h"

namespace mstar {

struct LoadedPlugin {
  PluginInfo info;
  std::filesystem::path library;
  std::string sha256;  // of the library file, recorded with every run that uses it
  std::string libtorch;  // the LibTorch it was built against (its descriptor's BuildAbi), "" for none
};

struct Refusal {
  std::filesystem::path library;
  std::string reason;  // what is wrong and what to do about it
};

class PluginCatalog {
 public:
  // Search order: `extra_dirs` (--plugin-path), MSTAR_PLUGIN_PATH, then the
  // built-in directory. The first library to define a name wins; a later
  // duplicate is refused, naming both libraries. A directory or library that
  // someone else could have written (see plugin_trust_problem) is refused
  // before any of its code runs, unless `trust_all` (--trust-plugin-dir).
  static PluginCatalog discover(const std::vector<std::string>& extra_dirs,
                                const std::filesystem::path& cache_file, bool trust_all = false);

  const LoadedPlugin* find(const std::string& id) const;
  // find() or Error(BadInput) with a "did you mean" and the known ids.
  const LoadedPlugin& require(const std::string& id) const;
  std::vector<std::string> ids() const;
  const std::map<std::string, LoadedPlugin>& plugins() const { return plugins_; }
  const std::vector<Refusal>& refusals() const { return refusals_; }
  const std::vector<std::filesystem::path>& search_dirs() const { return dirs_; }

 private:
  std::map<std::string, LoadedPlugin> plugins_;
  std::vector<Refusal> refusals_;
  std::vector<std::filesystem::path> dirs_;
};

// Why `path` (a plugin directory or library) must not be loaded, or "" when
// it may: group- or world-writable, or owned by neither root nor the current
// user. Loading a library runs its code as this user; such a file could have
// been replaced by someone else.
std::string plugin_trust_problem(const std::filesystem::path& path);

// What plugins must have been built against to run here (abi.h): this
// host's nlohmann::json and standard library, and libmstar_ml's LibTorch.
BuildAbi host_build_abi();

// Child side of the probe: loads `library`, checks the descriptor and prints
// {"plugins": [...]} or {"error": "..."} as one JSON line. Returns the exit code.
int probe_plugin_library(const std::filesystem::path& library);

// Loads a plugin library in the current process after the same checks as
// the probe (used by exec-node). Throws Error(BadInput) naming the path.
struct OpenedLibrary;
const PluginDescriptor& open_plugin(const std::filesystem::path& library, const std::string& id,
                                    std::shared_ptr<OpenedLibrary>& keep_alive);

}  // namespace mstar
