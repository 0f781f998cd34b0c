// An artifact is a directory in the store plus its manifest.json. The
// manifest is written last, by an atomic rename: a directory without one is
// half-written and is never reused.
#pragma once

#include <filesystem>
#include <string>

#include "mstar/json.h"

namespace mstar {

inline constexpr const char* kManifestFile = "manifest.json";
inline constexpr const char* kMetricsFile = "metrics.jsonl";

class Artifact {
 public:
  Artifact() = default;
  Artifact(std::filesystem::path dir, Json manifest)
      : dir_(std::move(dir)), manifest_(std::move(manifest)) {}

  // Reads dir/manifest.json; throws Error(Io) naming the file when it is
  // missing or not valid JSON.
  static Artifact open(const std::filesystem::path& dir);
  static bool is_complete(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const Json& manifest() const { return manifest_; }
  // Cache key of the node instance that made it.
  std::string key() const;
  // "kind/name" of the producing plugin.
  std::string producer() const;
  // A file inside the artifact; throws Error(Io) naming the artifact when absent.
  std::filesystem::path file(const std::string& relative) const;

 private:
  std::filesystem::path dir_;
  Json manifest_;
};

// Writes `text` to `path` through a temporary file and rename, so readers
// never see a partial file.
void write_file_atomic(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

}  // namespace mstar
