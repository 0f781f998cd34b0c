// Which code builds a backbone of a given architecture. One registry per
// process, inside libmstar_ml; backbone plugin libraries add their
// architectures at load time:
//
//   std::unique_ptr<Backbone> make_tiny_vlm(const Json& config, Tokenizer tokenizer);
//   MSTAR_REGISTER_BACKBONE("tiny_vlm", make_tiny_vlm, "ViT + decoder, qwen and llava families")
//
// Consumers in other plugin libraries (algorithms, benchmarks) load a
// checkpoint without knowing the family at compile time: load_backbone()
// reads config.json and, when its architecture is not registered yet,
// loads the library named by "plugin_library" (recorded by Backbone::save
// from the registry), which registers it. Such libraries stay loaded for the
// life of the process: their code backs every module they created.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/tokenizer.h"

namespace mstar {
class Artifact;
}

namespace mstar::ml {

// Builds a freshly initialised model of `config`'s dims around `tokenizer`.
// Initialisation draws from torch's default generator: seed it first.
using BackboneFactory = std::function<std::unique_ptr<Backbone>(const Json& config, Tokenizer tokenizer)>;
// Loads a checkpoint directory itself (a family whose checkpoints are
// Hugging Face's: shards, renamed tensors, files besides config.json), in
// place of factory + load_weights. `config` is the directory's config.json
// with "architecture" set; options.device is the checkpoint's when not given.
using BackboneLoader = std::function<std::unique_ptr<Backbone>(const std::filesystem::path& dir, const Json& config,
                                                               Tokenizer tokenizer, const LoadOptions& options)>;

struct ArchitectureInfo {
  std::string name;
  std::string description;
  std::filesystem::path library;  // the shared object (or executable) that registered it
  BackboneFactory factory;
  BackboneLoader loader = {};  // empty: load_backbone() uses factory and load_weights()
};

class BackboneRegistry {
 public:
  static BackboneRegistry& instance();

  // Throws Error(BadInput) when `info.name` is empty or already registered
  // (naming both libraries).
  void add(ArchitectureInfo info);
  bool contains(std::string_view name) const;
  // Throws Error(BadInput) for an unknown name, listing the known ones.
  ArchitectureInfo get(std::string_view name) const;
  std::vector<std::string> names() const;
  std::unique_ptr<Backbone> create(std::string_view name, const Json& config, Tokenizer tokenizer) const;

  // Registrations run in static initialisers, where throwing would abort
  // the process: a failed one is kept here and reported by get().
  void record_failure(std::string message);
  std::vector<std::string> failures() const;

  // For tests: forget an architecture (its library stays loaded).
  void remove(std::string_view name);
  // Forgets what `library` registered: load_library() refused it after its
  // registrars had run.
  void remove_library(const std::filesystem::path& library);

 private:
  BackboneRegistry() = default;
  mutable std::mutex mutex_;
  std::vector<ArchitectureInfo> entries_;
  std::vector<std::string> failures_;
};

// Registers at construction; used through MSTAR_REGISTER_BACKBONE.
// `anchor` is any function of the registering library (to find its path).
class BackboneRegistrar {
 public:
  BackboneRegistrar(const char* name, BackboneFactory factory, const void* anchor, const char* description,
                    BackboneLoader loader = {}) noexcept;
};

// The file of the shared object (or executable) that contains `address`.
std::filesystem::path library_of(const void* address);

// dlopen()s a plugin library for the rest of the process (never closed);
// loading the same file again is a no-op. Throws Error(Io) with dlerror(),
// and Error(BadInput) naming the file and both values when the library's
// handshake does not match this process (plugin.h's descriptor_problem(),
// with this libmstar_ml's LibTorch): then nothing it registered is kept.
void load_library(const std::filesystem::path& library);

// The library a checkpoint config names in "plugin_library" if that file
// exists, else a file of the same name in a directory of MSTAR_PLUGIN_PATH
// (':'-separated) or of `dirs`, else empty. A config that records none (a
// shipped checkpoint: the path would be the shipping machine's) is looked
// for by the name mstar_add_plugin() gives a family's library,
// libmstar_<architecture>.so, in the same directories. `tried` receives the
// paths looked at.
std::filesystem::path find_plugin_library(const Json& config, std::vector<std::filesystem::path>* tried = nullptr,
                                          const std::vector<std::filesystem::path>& dirs = {});

// Makes sure `config["architecture"]` is registered, loading the library of
// find_plugin_library() if needed. `origin` names the config in errors.
void ensure_architecture(const Json& config, const std::string& origin,
                         const std::vector<std::filesystem::path>& dirs = {});

// The backbone checkpoint inside an artifact: the artifact root when it
// holds config.json, else its "model/" subdirectory.
std::filesystem::path backbone_dir(const Artifact& artifact);
std::unique_ptr<Backbone> load_backbone(const Artifact& artifact, const LoadOptions& options = {});

}  // namespace mstar::ml

#define MSTAR_DETAIL_ML_CAT2(a, b) a##b
#define MSTAR_DETAIL_ML_CAT(a, b) MSTAR_DETAIL_ML_CAT2(a, b)

// NAME: the architecture key; FACTORY: a function (not a lambda) with the
// BackboneFactory signature, defined in the registering library.
#define MSTAR_REGISTER_BACKBONE(NAME, FACTORY, DESCRIPTION)                                    \
  static const ::mstar::ml::BackboneRegistrar MSTAR_DETAIL_ML_CAT(mstar_backbone_registrar_, \
                                                                  __LINE__)(                  \
      NAME, &FACTORY, reinterpret_cast<const void*>(&FACTORY), DESCRIPTION);

// The same with a BackboneLoader (a function) for the family's own checkpoints.
#define MSTAR_REGISTER_BACKBONE_WITH_LOADER(NAME, FACTORY, LOADER, DESCRIPTION)                  \
  static const ::mstar::ml::BackboneRegistrar MSTAR_DETAIL_ML_CAT(mstar_backbone_registrar_,   \
                                                                  __LINE__)(                    \
      NAME, &FACTORY, reinterpret_cast<const void*>(&FACTORY), DESCRIPTION, &LOADER);
