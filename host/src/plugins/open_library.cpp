// In-process side of plugin loading: the checks run in this order so that no
// plugin code runs before the descriptor is known to match this host.
#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdio>

#include "plugins/catalog.h"

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
  if (!d) refuse(lib, std::string(kEntry) + "() returned null");
  if (d->api_version != MSTAR_PLUGIN_API_VERSION)
    refuse(lib, "built for plugin API version " + std::to_string(d->api_version) + ", this mstar has version " +
                    std::to_string(MSTAR_PLUGIN_API_VERSION) + ". Rebuild the plugin against this mstar.");
  if (d->descriptor_size != sizeof(LibraryDescriptor) || d->descriptor_align != alignof(LibraryDescriptor))
    refuse(lib, "descriptor layout mismatch (size " + std::to_string(d->descriptor_size) + " align " +
                    std::to_string(d->descriptor_align) + ", expected " + std::to_string(sizeof(LibraryDescriptor)) +
                    " and " + std::to_string(alignof(LibraryDescriptor)) + "). Rebuild the plugin.");
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
