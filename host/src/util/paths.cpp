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
  p.registry = registry_flag.empty() ? p.home / "registry.db" : fs::absolute(registry_flag);
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
