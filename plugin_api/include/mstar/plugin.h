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
// alignment, then the versions of what crosses the boundary (abi.h), before
// touching anything else; exceptions never cross the boundary: the generated
// trampoline turns them into a status and a message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mstar/abi.h"
#include "mstar/component.h"
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
  // Set for components (reward, judge, ...): the interface they implement.
  // Components are built by nodes, never scheduled as nodes themselves.
  std::string interface_name;

  std::string id() const { return kind + "/" + name; }
  Json to_json() const;
  static PluginInfo from_json(const Json& j);
};

inline namespace v2 {

// Run status returned across the boundary.
enum : int { kRunOk = 0, kRunFailed = 1, kRunBadInput = 2, kRunCancelled = 3 };

using RunFn = int (*)(NodeContext* ctx, char* message, std::size_t message_size) noexcept;
using DeleteFn = void (*)(void* object) noexcept;
// Returns an object implementing `interface_name` (and its deleter), or
// nullptr with a message.
using CreateFn = void* (*)(const char* interface_name, const char* params_json, ComponentHost* host,
                           DeleteFn* deleter, char* message, std::size_t message_size) noexcept;

struct PluginDescriptor {
  const char* metadata_json;  // PluginInfo::to_json().dump()
  RunFn run;                  // nodes
  CreateFn create;            // components
};

// The first three fields are ABI-stable across all API versions: the loader
// reads them before anything else.
struct LibraryDescriptor {
  std::uint32_t api_version;
  std::uint32_t descriptor_size;
  std::uint32_t descriptor_align;
  std::uint32_t plugin_count;
  const PluginDescriptor* plugins;
  BuildAbi abi;  // since API version 2
};

}  // namespace v2

// Why a library with descriptor `d` must not run in this process, whose
// own build is `here`, or "" when it may: API version, then layout, then
// every field of BuildAbi that differs, with both values ("built against
// nlohmann::json 3.10.5, this mstar has nlohmann::json 3.11.2"). LibTorch
// is compared only when both sides know it.
std::string descriptor_problem(const LibraryDescriptor* d, const BuildAbi& here);

namespace detail {

// Library-local lists, filled by MSTAR_PLUGIN at load time. Hidden so that
// two plugin libraries loaded into one process never share them; defined in
// plugin_entry.cpp, which mstar_add_plugin() compiles into every plugin.
#define MSTAR_DETAIL_HIDDEN __attribute__((visibility("hidden")))
MSTAR_DETAIL_HIDDEN std::vector<PluginDescriptor>& library_plugins();
MSTAR_DETAIL_HIDDEN std::vector<std::string>& library_metadata();
int run_guarded(NodeContext* ctx, char* message, std::size_t size,
                void (*body)(NodeContext&)) noexcept;
void* create_guarded(const char* wanted, const char* provided, const char* params_json, ComponentHost* host,
                     char* message, std::size_t size, void* (*body)(const Params&, ComponentHost&)) noexcept;
MSTAR_DETAIL_HIDDEN void register_plugin(const PluginInfo& info, RunFn run, CreateFn create);

template <class T>
struct Registrar {
  Registrar() { register_plugin(T::info(), &Registrar::run, nullptr); }
  static int run(NodeContext* ctx, char* message, std::size_t size) noexcept {
    return run_guarded(ctx, message, size, [](NodeContext& c) { T plugin; plugin.run(c); });
  }
};

template <class T>
struct ComponentRegistrar {
  using Interface = typename T::Interface;
  ComponentRegistrar() {
    PluginInfo info = T::info();
    info.interface_name = Interface::kInterface;
    register_plugin(info, nullptr, &ComponentRegistrar::create);
  }
  static void* create(const char* wanted, const char* params_json, ComponentHost* host, DeleteFn* deleter,
                      char* message, std::size_t size) noexcept {
    *deleter = [](void* p) noexcept { delete static_cast<Interface*>(p); };
    return create_guarded(wanted, Interface::kInterface, params_json, host, message, size,
                          [](const Params& p, ComponentHost& h) -> void* {
                            return static_cast<Interface*>(new T(p, h));
                          });
  }
};

}  // namespace detail
}  // namespace mstar

#define MSTAR_PLUGIN_ENTRY_SYMBOL "mstar_plugin_library"
#define MSTAR_DETAIL_CAT2(a, b) a##b
#define MSTAR_DETAIL_CAT(a, b) MSTAR_DETAIL_CAT2(a, b)

#define MSTAR_PLUGIN(Class) \
  static const ::mstar::detail::Registrar<Class> MSTAR_DETAIL_CAT(mstar_registrar_, __LINE__){};

#define MSTAR_COMPONENT(Class) \
  static const ::mstar::detail::ComponentRegistrar<Class> MSTAR_DETAIL_CAT(mstar_registrar_, __LINE__){};
