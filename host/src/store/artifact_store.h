// The artifact store: every place a node's work lives on disk, and the
// rules that keep it consistent when hosts, child processes and cluster jobs
// die at any moment. Nothing else in the host builds a store path.
//
//   STORE/KE/KEY/         a complete artifact: its manifest.json is written
//                         last, so a directory without one is never used
//   STORE/tmp/KEY.TAG/    one attempt's staging directory, renamed to
//                         KE/KEY when complete (TAG: the launcher's, see
//                         exec/launcher.h); sidecar files KEY.TAG.ext beside it
//   STORE/resume/KEY/     a node's checkpoints between attempts; removed
//                         when the artifact is published
//
// Keys are content hashes (cache_key): equal keys mean equal work, which is
// what lets two hosts, or a host and a job it lost track of, publish the
// same key without harm.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "mstar/json.h"

namespace mstar {

class ArtifactStore {
 public:
  explicit ArtifactStore(std::filesystem::path root) : root_(std::move(root)) {}

  // The key of the work `identity` describes (canonical JSON: sorted keys):
  // 40 hex digits.
  static std::string cache_key(const Json& identity);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path artifact(const std::string& key) const;
  // An input reference "KEY" or "KEY/OUTPUT" as a directory.
  std::filesystem::path input(const std::string& ref) const;
  bool is_complete(const std::string& key) const;
  std::filesystem::path staging_root() const { return root_ / "tmp"; }
  std::filesystem::path staging(const std::string& name) const { return staging_root() / name; }
  std::filesystem::path resume(const std::string& key) const { return root_ / "resume" / key; }

  // Removes the artifact of `key` (--force), complete or not.
  void forget(const std::string& key) const;

  // Removes every staging entry (directory and sidecars) whose attempt is
  // over: `may_still_write(KEY.TAG)` is asked once per attempt; nullopt
  // leaves it alone. Returns how many attempts were removed.
  size_t discard_stale_staging(const std::function<std::optional<bool>(const std::string&)>& may_still_write) const;

  // exec-node's side. An attempt starts from an empty staging directory.
  static void begin_staging(const std::filesystem::path& staging);
  // Writes `manifest` (manifest.json) last into `staging`, renames it to
  // `final_dir`, then removes `resume` (if given). When another attempt
  // published the same key first, this one's staging is discarded: same key,
  // same content. Throws Error(Io) when it cannot publish.
  static void publish(const std::filesystem::path& staging, const std::filesystem::path& final_dir,
                      const std::filesystem::path& resume, const std::string& manifest);

 private:
  std::filesystem::path root_;
};

}  // namespace mstar
