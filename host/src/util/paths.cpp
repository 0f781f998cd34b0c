#include "util/paths.h"

#include <cstdlib>
#include <unistd.h>

#include "mstar/error.h"

#ifndef MSTAR_INSTALL_PLUGINDIR
#define MSTAR_INSTALL_PLUGINDIR "lib/mstar/plugins"
#endif

namespace mstar {

namespace fs = std::filesystem;

Paths resolve_paths(const std::string& registry_flag, const std::string& store_flag) {
  Paths p;
  const char* env = std::getenv("MSTAR_HOME");
  p.home = fs::absolute(env && *env ? fs::path(env) : fs::path(".mstar"));
  // --registry, else MSTAR_REGISTRY, else the file in MSTAR_HOME. A
  // postgresql:// URL is kept as it is (see registry.h).
  const char* env_registry = std::getenv("MSTAR_REGISTRY");
  const std::string registry = !registry_flag.empty() ? registry_flag : (env_registry ? env_registry : "");
  if (registry.empty()) p.registry = p.home / "registry.db";
  else if (registry.rfind("postgresql://", 0) == 0 || registry.rfind("postgres://", 0) == 0) p.registry = registry;
  else p.registry = fs::absolute(registry);
  p.store = store_flag.empty() ? p.home / "store" : fs::absolute(store_flag);
  return p;
}

fs::path self_executable() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(ErrorCategory::Internal, "cannot resolve /proc/self/exe: " + ec.message());
  return exe;
}

fs::path builtin_plugin_dir() {
  const fs::path dir = self_executable().parent_path();
  if (fs::is_directory(dir / "plugins")) return dir / "plugins";
  return dir.parent_path() / MSTAR_INSTALL_PLUGINDIR;
}

}  // namespace mstar
