// The handshake's second half: what a library's compiler took from the
// headers it was built against, for the types whose layout crosses the
// plugin boundary. nlohmann::json crosses in Params, annotate(), artifact
// manifests and component params; std::string and std::vector in params,
// errors and input names; LibTorch's tensors and modules between libmstar_ml
// and the plugins that link mstar::ml. Virtual calls bind by slot, not by
// name, so a plugin built against another version of these would load and
// then corrupt memory: every plugin records its BuildAbi in its
// LibraryDescriptor (plugin_entry.cpp), and the host's loader and
// libmstar_ml's load_library() compare it with their own before any plugin
// code runs (descriptor_problem() in plugin.h). fmt is not here: log.h
// formats on the plugin's side, and only a std::string_view crosses.
#pragma once

#include <cstdint>
#include <string>

#include "mstar/json.h"

namespace mstar {

struct BuildAbi {
  std::uint32_t json_version;   // NLOHMANN_JSON_VERSION_MAJOR/MINOR/PATCH, by pack_version()
  std::uint32_t json_size;      // sizeof(Json): JSON_DIAGNOSTICS changes it
  std::uint32_t string_size;    // sizeof(std::string)
  std::uint32_t cxx11_abi;      // _GLIBCXX_USE_CXX11_ABI, or kNotLibstdcxx
  std::uint32_t torch_version;  // TORCH_VERSION_MAJOR/MINOR/PATCH, by pack_version(); 0 = no LibTorch
};

constexpr std::uint32_t pack_version(std::uint32_t major, std::uint32_t minor, std::uint32_t patch) {
  return major * 10000 + minor * 100 + patch;
}

constexpr std::uint32_t kNotLibstdcxx = 0xffffffffu;

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define MSTAR_DETAIL_CXX11_ABI static_cast<std::uint32_t>(_GLIBCXX_USE_CXX11_ABI)
#else
#define MSTAR_DETAIL_CXX11_ABI ::mstar::kNotLibstdcxx
#endif

// The including translation unit's values, LibTorch left 0 (only code that
// includes torch/version.h knows it). A constexpr variable at namespace
// scope has internal linkage: each library holds the values of its own
// headers, never a copy interposed from another library.
constexpr BuildAbi kCompiledAbi{
    pack_version(NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR, NLOHMANN_JSON_VERSION_PATCH),
    static_cast<std::uint32_t>(sizeof(Json)), static_cast<std::uint32_t>(sizeof(std::string)),
    MSTAR_DETAIL_CXX11_ABI, 0};

// "1.13.0" for pack_version(1, 13, 0).
std::string version_text(std::uint32_t packed);

}  // namespace mstar
