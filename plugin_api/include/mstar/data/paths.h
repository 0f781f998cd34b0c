// Confining the file paths that data names (an image path in a JSONL row, a
// file listed in a manifest) to the folders the user handed over: the
// dataset's own folder and the `image_roots` they listed. Every loader that
// opens a path read out of data goes through this, so that a row saying
// "../../home/me/.ssh/id_rsa" or "/etc/shadow" is an error, not a file
// copied into an artifact or served by a dashboard.
//
// The rule (docs/data.md, "Where data may point"): the path, relative to the
// file that names it or absolute, is resolved with every symlink followed; the
// result must lie inside the dataset folder or inside one of the roots
// (themselves resolved the same way). A symlink inside the folder that points
// outside is therefore outside. The file itself need not exist: whether it
// does is the caller's check, with its own message.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mstar::data {

class PathConfinement {
 public:
  // `dataset_dir` must be an existing directory; every root an absolute,
  // existing directory (a relative root would depend on the working
  // directory of whoever runs the node). Throws Error(BadInput) naming the
  // offending entry otherwise.
  explicit PathConfinement(const std::filesystem::path& dataset_dir,
                           const std::vector<std::filesystem::path>& image_roots = {});

  // The canonical path of `source`: absolute, or relative to `relative_to`
  // ("" = the dataset folder; a JSONL file in a subfolder passes its own
  // directory). Throws Error(BadInput)
  //   "WHERE: path 'SOURCE' resolves to RESOLVED, outside the dataset folder
  //    DIR and image_roots [...]; add a folder holding it to image_roots to
  //    allow it"
  // where `where` is a location such as "FILE:LINE" ("" leaves the prefix out).
  std::filesystem::path resolve(const std::string& source, const std::string& where,
                                const std::filesystem::path& relative_to = {}) const;

  // Whether an already canonical path lies in the folder or a root.
  bool allows(const std::filesystem::path& canonical) const;

  const std::filesystem::path& dataset_dir() const { return dir_; }
  const std::vector<std::filesystem::path>& image_roots() const { return roots_; }

 private:
  std::filesystem::path dir_;                 // canonical
  std::vector<std::filesystem::path> roots_;  // canonical
};

// One-off form of PathConfinement(dataset_dir, image_roots).resolve(source, where);
// a loader resolving many paths builds the PathConfinement once.
std::filesystem::path resolve_confined(const std::filesystem::path& dataset_dir,
                                       const std::vector<std::filesystem::path>& image_roots,
                                       const std::string& source, const std::string& where);

}  // namespace mstar::data
