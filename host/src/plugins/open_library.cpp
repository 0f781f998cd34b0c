// In-process side of plugin loading: the checks run in this order so that no
// plugin code runs before the descriptor is known to match this host.
#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdio>

#include "plugins/catalog.h"

#ifndef MSTAR_TORCH_VERSION
#define MSTAR_TORCH_VERSION ""
#endif

namespace mstar {

namespace fs = std::filesystem;

struct OpenedLibrary {
  boost::dll::shared_library lib;
};

namespace {

const char* kEntry = MSTAR_PLUGIN_ENTRY_SYMBOL;

[[noreturn]] void refuse(const fs::path& lib, const std::string& why) {
  throw_bad_input("plugin library " + lib.string() + ": " + why);
}

// Reads the ELF symbol table without loading the library.
void check_entry_symbol(const fs::path& lib) {
  std::vector<std::string> symbols;
  try {
    boost::dll::library_info info(boost::dll::fs::path(lib.string()), /*throw_if_not_native=*/true);
    symbols = info.symbols();
  } catch (const std::exception& e) {
    refuse(lib, std::string("not a loadable shared library (") + e.what() + ")");
  }
  for (const auto& s : symbols)
    if (s == kEntry) return;
  refuse(lib, std::string("is not an mstar plugin: it does not export '") + kEntry +
                  "'. Build it with mstar_add_plugin() from find_package(mstar).");
}

const LibraryDescriptor& checked_descriptor(const fs::path& lib, boost::dll::shared_library& handle) {
  using Entry = const LibraryDescriptor*();
  const LibraryDescriptor* d = handle.get<Entry>(kEntry)();
  if (std::string why = descriptor_problem(d, host_build_abi()); !why.empty()) refuse(lib, why);
  return *d;
}

std::shared_ptr<OpenedLibrary> load(const fs::path& lib) {
  check_entry_symbol(lib);
  auto opened = std::make_shared<OpenedLibrary>();
  try {
    opened->lib.load(boost::dll::fs::path(lib.string()), boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    refuse(lib, std::string("cannot be loaded: ") + e.what());
  }
  return opened;
}

}  // namespace

BuildAbi host_build_abi() {
  BuildAbi abi = kCompiledAbi;
  // MSTAR_TORCH_VERSION ("1.13.0", or "" without LibTorch) is the LibTorch of
  // libmstar_ml, built with this host; the host itself does not link it.
  unsigned major = 0, minor = 0, patch = 0;
  if (std::sscanf(MSTAR_TORCH_VERSION, "%u.%u.%u", &major, &minor, &patch) >= 2)
    abi.torch_version = pack_version(major, minor, patch);
  return abi;
}

int probe_plugin_library(const fs::path& library) {
  Json out;
  try {
    auto opened = load(library);
    const LibraryDescriptor& d = checked_descriptor(library, opened->lib);
    Json plugins = Json::array();
    for (std::uint32_t i = 0; i < d.plugin_count; ++i) {
      try {
        plugins.push_back(Json::parse(d.plugins[i].metadata_json));
      } catch (const std::exception& e) {
        refuse(library, "plugin #" + std::to_string(i) + " has unreadable metadata: " + e.what());
      }
    }
    out = {{"plugins", plugins}};
    if (d.abi.torch_version != 0) out["libtorch"] = version_text(d.abi.torch_version);
  } catch (const std::exception& e) {
    out = {{"error", e.what()}};
  }
  std::printf("%s\n", out.dump().c_str());
  std::fflush(stdout);
  return out.contains("error") ? 2 : 0;
}

const PluginDescriptor& open_plugin(const fs::path& library, const std::string& id,
                                    std::shared_ptr<OpenedLibrary>& keep_alive) {
  keep_alive = load(library);
  const LibraryDescriptor& d = checked_descriptor(library, keep_alive->lib);
  for (std::uint32_t i = 0; i < d.plugin_count; ++i) {
    Json meta = Json::parse(d.plugins[i].metadata_json);
    if (meta.value("kind", "") + "/" + meta.value("name", "") == id) return d.plugins[i];
  }
  refuse(library, "does not define plugin '" + id + "'");
}

}  // namespace mstar
