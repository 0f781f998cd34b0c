#include "mstar/ml/registry.h"

#include <dlfcn.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/plugin.h"

namespace mstar::ml {

namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i;
  return s;
}

std::vector<fs::path> plugin_path_dirs() {
  std::vector<fs::path> dirs;
  const char* env = std::getenv("MSTAR_PLUGIN_PATH");
  if (!env) return dirs;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ':'))
    if (!item.empty()) dirs.emplace_back(item);
  return dirs;
}

// Letters, digits, '_' and '-' only: a name that cannot leave the
// directory it is looked for in.
bool is_plain_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Why the just-loaded `handle` must not be used, or "": the host's
// handshake (plugin.h), with this libmstar_ml's LibTorch, which the
// library's modules and tensors share.
std::string handshake_problem(void* handle) {
  using Entry = const LibraryDescriptor* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, MSTAR_PLUGIN_ENTRY_SYMBOL));
  if (!entry)
    return std::string("is not an mstar plugin: it does not export '") + MSTAR_PLUGIN_ENTRY_SYMBOL +
           "', so nothing says what it was built against. Build it with mstar_add_plugin().";
  BuildAbi here = kCompiledAbi;
  here.torch_version = pack_version(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
  return descriptor_problem(entry(), here);
}

}  // namespace

BackboneRegistry& BackboneRegistry::instance() {
  static BackboneRegistry registry;
  return registry;
}

void BackboneRegistry::add(ArchitectureInfo info) {
  if (info.name.empty()) throw_bad_input("backbone registry: empty architecture name (from " + info.library.string() + ")");
  if (!info.factory) throw_bad_input("backbone registry: architecture '" + info.name + "' has no factory");
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : entries_)
    if (e.name == info.name)
      throw_bad_input("backbone architecture '" + info.name + "' is registered twice: by " + e.library.string() +
                      " and by " + info.library.string());
  entries_.push_back(std::move(info));
}

bool BackboneRegistry::contains(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.name == name; });
}

ArchitectureInfo BackboneRegistry::get(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& e : entries_)
    if (e.name == name) return e;
  std::vector<std::string> known;
  for (const auto& e : entries_) known.push_back(e.name);
  std::sort(known.begin(), known.end());
  std::string msg = "unknown backbone architecture '" + std::string(name) + "'; known: " + join(known);
  if (!failures_.empty()) msg += "; failed registrations: " + join(failures_);
  throw_bad_input(msg);
}

std::vector<std::string> BackboneRegistry::names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Backbone> BackboneRegistry::create(std::string_view name, const Json& config, Tokenizer tokenizer) const {
  ArchitectureInfo info = get(name);
  std::unique_ptr<Backbone> model = info.factory(config, std::move(tokenizer));
  if (!model) throw Error(ErrorCategory::PluginFailure, "backbone factory of '" + info.name + "' (" +
                                                           info.library.string() + ") returned nothing");
  return model;
}

void BackboneRegistry::remove_library(const fs::path& library) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.library == library; }),
                 entries_.end());
}

void BackboneRegistry::record_failure(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  failures_.push_back(std::move(message));
}

std::vector<std::string> BackboneRegistry::failures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failures_;
}

void BackboneRegistry::remove(std::string_view name) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.name == name; }),
                 entries_.end());
}

BackboneRegistrar::BackboneRegistrar(const char* name, BackboneFactory factory, const void* anchor,
                                     const char* description, BackboneLoader loader) noexcept {
  try {
    BackboneRegistry::instance().add(ArchitectureInfo{name, description ? description : "", library_of(anchor),
                                                      std::move(factory), std::move(loader)});
  } catch (const std::exception& e) {
    BackboneRegistry::instance().record_failure(e.what());
  }
}

fs::path library_of(const void* address) {
  Dl_info info{};
  if (!address || dladdr(address, &info) == 0 || !info.dli_fname) return {};
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(info.dli_fname, ec), ec);
  return ec ? fs::path(info.dli_fname) : p;
}

void load_library(const fs::path& library) {
  static std::mutex mutex;
  static std::map<std::string, void*> handles;        // never closed: modules outlive any scope
  static std::map<std::string, std::string> refused;  // loaded, but failed the handshake
  std::error_code ec;
  const std::string key = fs::weakly_canonical(library, ec).string();
  std::lock_guard<std::mutex> lock(mutex);
  if (handles.count(key)) return;
  if (auto r = refused.find(key); r != refused.end()) throw_bad_input(r->second);
  void* handle = dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    throw_io("cannot load plugin library " + key + ": " + (err ? err : "unknown dlopen error"));
  }
  // Its registrars ran inside dlopen; what they added is taken back, and the
  // library stays loaded (unloading code that may have run is no safer).
  if (std::string why = handshake_problem(handle); !why.empty()) {
    BackboneRegistry::instance().remove_library(key);  // library_of() names it as dlopen() was given it
    refused[key] = "plugin library " + key + ": " + why;
    throw_bad_input(refused[key]);
  }
  handles[key] = handle;
}

fs::path find_plugin_library(const Json& config, std::vector<fs::path>* tried, const std::vector<fs::path>& dirs) {
  fs::path wanted = config.is_object() ? fs::path(config.value("plugin_library", "")) : fs::path();
  if (!wanted.empty()) {
    if (tried) tried->push_back(wanted);
    if (fs::exists(wanted)) return wanted;
  } else if (config.is_object() && config.contains("architecture") && config["architecture"].is_string() &&
             is_plain_name(config["architecture"].get<std::string>())) {
    wanted = "libmstar_" + config["architecture"].get<std::string>() + ".so";
  } else {
    return {};
  }
  std::vector<fs::path> search = plugin_path_dirs();
  search.insert(search.end(), dirs.begin(), dirs.end());
  for (const auto& dir : search) {
    fs::path candidate = dir / wanted.filename();
    if (tried) tried->push_back(candidate);
    if (fs::exists(candidate)) return candidate;
  }
  return {};
}

void ensure_architecture(const Json& config, const std::string& origin, const std::vector<fs::path>& dirs) {
  if (!config.is_object() || !config.contains("architecture") || !config["architecture"].is_string())
    throw_bad_input(origin + ": no \"architecture\" field, so no backbone code can be chosen");
  const std::string name = config["architecture"].get<std::string>();
  auto& registry = BackboneRegistry::instance();
  if (registry.contains(name)) return;

  std::vector<fs::path> tried;
  const fs::path found = find_plugin_library(config, &tried, dirs);
  if (found.empty()) {
    std::vector<std::string> t;
    for (const auto& p : tried) t.push_back(p.string());
    throw_bad_input(origin + ": backbone architecture '" + name + "' is not registered (known: " +
                    join(registry.names()) + ") and no library providing it was found" +
                    (tried.empty() ? std::string(" (no \"plugin_library\" recorded)") : "; tried " + join(t)));
  }
  load_library(found);
  if (!registry.contains(name))
    throw_bad_input(origin + ": library " + found.string() + " does not register backbone architecture '" + name +
                    "' (known now: " + join(registry.names()) + ")" +
                    (registry.failures().empty() ? "" : "; failed registrations: " + join(registry.failures())));
}

fs::path backbone_dir(const Artifact& artifact) {
  if (fs::exists(artifact.dir() / kConfigFile)) return artifact.dir();
  if (fs::exists(artifact.dir() / "model" / kConfigFile)) return artifact.dir() / "model";
  throw_io("artifact " + artifact.dir().string() + " (from " + artifact.producer() +
           ") holds no backbone checkpoint: no " + kConfigFile + " in it or in model/");
}

std::unique_ptr<Backbone> load_backbone(const Artifact& artifact, const LoadOptions& options) {
  return load_backbone(backbone_dir(artifact), options);
}

}  // namespace mstar::ml
