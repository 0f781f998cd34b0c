// Compiled into every plugin library by mstar_add_plugin(): the one exported
// hook the loader looks for. Not part of libmstar_core on purpose (see
// detail::library_plugins in plugin.h).
#include "mstar/plugin.h"

// Visible only to a plugin compiled against LibTorch: its version goes into
// the handshake, which libmstar_ml and the host compare with their own.
#if __has_include(<torch/version.h>)
#include <torch/version.h>
#endif

namespace mstar::detail {

std::vector<PluginDescriptor>& library_plugins() {
  static std::vector<PluginDescriptor> plugins;
  return plugins;
}

std::vector<std::string>& library_metadata() {
  static std::vector<std::string> metadata;
  return metadata;
}

void register_plugin(const PluginInfo& info, RunFn run, CreateFn create) {
  library_metadata().push_back(info.to_json().dump());
  library_plugins().push_back(PluginDescriptor{nullptr, run, create});
}

}  // namespace mstar::detail

extern "C" __attribute__((visibility("default"))) const mstar::LibraryDescriptor*
mstar_plugin_library() {
  using namespace mstar::detail;
  static const mstar::LibraryDescriptor descriptor = [] {
    auto& plugins = library_plugins();
    auto& metadata = library_metadata();
    // Registrars push metadata and descriptor in step; the pointers are
    // stable from here on because nothing registers after load time.
    for (std::size_t i = 0; i < plugins.size(); ++i) plugins[i].metadata_json = metadata[i].c_str();
    mstar::BuildAbi abi = mstar::kCompiledAbi;
#ifdef TORCH_VERSION_MAJOR
    abi.torch_version = mstar::pack_version(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
#endif
    return mstar::LibraryDescriptor{MSTAR_PLUGIN_API_VERSION,
                                    static_cast<std::uint32_t>(sizeof(mstar::LibraryDescriptor)),
                                    static_cast<std::uint32_t>(alignof(mstar::LibraryDescriptor)),
                                    static_cast<std::uint32_t>(plugins.size()), plugins.data(), abi};
  }();
  return &descriptor;
}
