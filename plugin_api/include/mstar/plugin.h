// Declaring a plugin.
//
//   class Echo {
//    public:
//     static mstar::PluginInfo info();           // metadata: data, not code
//     void run(mstar::NodeContext& ctx);         // throw mstar::Error on failure
//   };
//   MSTAR_PLUGIN(Echo)
//
// A library may declare several plugins. The loader reads the library
// descriptor through one extern "C" hook and checks its API version, size and
// alignment before touching anything else; exceptions never cross the
// boundary: the generated trampoline turns them into a status and a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mstar/error.h"
#include "mstar/node.h"
#include "mstar/params.h"
#include "mstar/version.h"

namespace mstar {

struct InputSpec {
  std::string name;
  std::string type;  // artifact type expected ("backbone", "dataset"), "" = any
  bool required = true;
  std::string doc;
};

struct OutputSpec {
  std::string name;  // "" is the artifact root
  std::string type;  // artifact type produced
  std::string doc;
};

struct PluginInfo {
  std::string kind;     // backbone, dataset, reward, algorithm, benchmark, judge, test, ...
  std::string name;
  std::string version;  // part of the cache key: bump it when outputs change
  std::string description;
  ParamSchema params;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  std::vector<std::string> examples;  // YAML snippets for `plugins info`

  std::string id() const { return kind + "/" + name; }
  Json to_json() const;
  static PluginInfo from_json(const Json& j);
};

inline namespace v1 {

// Run status returned across the boundary.
enum : int { kRunOk = 0, kRunFailed = 1, kRunBadInput = 2, kRunCancelled = 3 };

using RunFn = int (*)(NodeContext* ctx, char* message, std::size_t message_size) noexcept;

struct PluginDescriptor {
  const char* metadata_json;  // PluginInfo::to_json().dump()
  RunFn run;
};

// The first three fields are ABI-stable across all API versions: the loader
// reads them before anything else.
struct LibraryDescriptor {
  std::uint32_t api_version;
  std::uint32_t descriptor_size;
  std::uint32_t descriptor_align;
  std::uint32_t plugin_count;
  const PluginDescriptor* plugins;
};

}  // namespace v1

namespace detail {

// Library-local lists, filled by MSTAR_PLUGIN at load time. Hidden so that
// two plugin libraries loaded into one process never share them; defined in
// plugin_entry.cpp, which mstar_add_plugin() compiles into every plugin.
#define MSTAR_DETAIL_HIDDEN __attribute__((visibility("hidden")))
MSTAR_DETAIL_HIDDEN std::vector<PluginDescriptor>& library_plugins();
MSTAR_DETAIL_HIDDEN std::vector<std::string>& library_metadata();
int run_guarded(NodeContext* ctx, char* message, std::size_t size,
                void (*body)(NodeContext&)) noexcept;

template <class T>
struct Registrar {
  Registrar() {
    library_metadata().push_back(T::info().to_json().dump());
    library_plugins().push_back(PluginDescriptor{nullptr, &Registrar::run});
  }
  static int run(NodeContext* ctx, char* message, std::size_t size) noexcept {
    return run_guarded(ctx, message, size, [](NodeContext& c) { T plugin; plugin.run(c); });
  }
};

}  // namespace detail
}  // namespace mstar

#define MSTAR_PLUGIN_ENTRY_SYMBOL "mstar_plugin_library"
#define MSTAR_DETAIL_CAT2(a, b) a##b
#define MSTAR_DETAIL_CAT(a, b) MSTAR_DETAIL_CAT2(a, b)

#define MSTAR_PLUGIN(Class) \
  static const ::mstar::detail::Registrar<Class> MSTAR_DETAIL_CAT(mstar_registrar_, __LINE__){};
