#include "store/artifact_store.h"

#include <map>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "util/hash.h"

namespace mstar {

namespace fs = std::filesystem;

std::string ArtifactStore::cache_key(const Json& identity) { return sha1_hex(identity.dump()); }

fs::path ArtifactStore::artifact(const std::string& key) const { return root_ / key.substr(0, 2) / key; }

fs::path ArtifactStore::input(const std::string& ref) const {
  const size_t slash = ref.find('/');
  fs::path dir = artifact(ref.substr(0, slash));
  if (slash != std::string::npos) dir /= ref.substr(slash + 1);
  return dir;
}

bool ArtifactStore::is_complete(const std::string& key) const { return Artifact::is_complete(artifact(key)); }

void ArtifactStore::forget(const std::string& key) const {
  std::error_code ec;
  fs::remove_all(artifact(key), ec);
}

size_t ArtifactStore::discard_stale_staging(
    const std::function<std::optional<bool>(const std::string&)>& may_still_write) const {
  std::error_code ec;
  if (!fs::is_directory(staging_root(), ec)) return 0;
  std::map<std::string, std::optional<bool>> alive;  // by KEY.TAG
  size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(staging_root(), ec)) {
    const std::string name = entry.path().filename().string();
    const size_t dot = name.find('.');
    const std::string base = dot == std::string::npos ? name : name.substr(0, name.find('.', dot + 1));
    auto it = alive.find(base);
    if (it == alive.end()) {
      it = alive.emplace(base, may_still_write(base)).first;
      if (it->second.has_value() && !*it->second) ++removed;
    }
    if (it->second.has_value() && !*it->second) fs::remove_all(entry.path(), ec);
  }
  return removed;
}

void ArtifactStore::begin_staging(const fs::path& staging) {
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging);
}

void ArtifactStore::publish(const fs::path& staging, const fs::path& final_dir, const fs::path& resume,
                            const std::string& manifest) {
  write_file_atomic(staging / kManifestFile, manifest);
  fs::create_directories(final_dir.parent_path());
  std::error_code ec;
  fs::rename(staging, final_dir, ec);
  if (ec) {
    if (Artifact::is_complete(final_dir)) {
      fs::remove_all(staging, ec);
      return;
    }
    throw Error(ErrorCategory::Io,
                "cannot publish " + staging.string() + " as " + final_dir.string() + ": " + ec.message());
  }
  if (!resume.empty() && fs::exists(resume)) fs::remove_all(resume, ec);
}

}  // namespace mstar
