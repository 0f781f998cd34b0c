#include "mstar/data/paths.h"

#include <system_error>

#include "mstar/error.h"

namespace mstar::data {

namespace fs = std::filesystem;

namespace {

std::string prefix(const std::string& where) { return where.empty() ? "" : where + ": "; }

// Component-wise, so that /data/ab is not inside /data/a.
bool is_within(const fs::path& dir, const fs::path& path) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // the empty last element of a path ending in '/'
    if (p == path.end() || *d != *p) return false;
  }
  return true;
}

fs::path canonical_dir(const fs::path& dir, const std::string& what) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_bad_input(what + " '" + dir.string() + "' is not an existing directory");
  fs::path out = fs::canonical(dir, ec);
  if (ec) throw_bad_input(what + " '" + dir.string() + "' cannot be resolved: " + ec.message());
  return out;
}

}  // namespace

PathConfinement::PathConfinement(const fs::path& dataset_dir, const std::vector<fs::path>& image_roots)
    : dir_(canonical_dir(dataset_dir, "dataset folder")) {
  for (const fs::path& root : image_roots) {
    if (!root.is_absolute()) throw_bad_input("image_roots: '" + root.string() + "' must be an absolute path");
    roots_.push_back(canonical_dir(root, "image_roots entry"));
  }
}

bool PathConfinement::allows(const fs::path& canonical) const {
  if (is_within(dir_, canonical)) return true;
  for (const fs::path& root : roots_)
    if (is_within(root, canonical)) return true;
  return false;
}

fs::path PathConfinement::resolve(const std::string& source, const std::string& where,
                                  const fs::path& relative_to) const {
  if (source.empty()) throw_bad_input(prefix(where) + "empty path");
  const fs::path given(source);
  std::error_code ec;
  // weakly_canonical follows every symlink of the part that exists and
  // normalises the rest, so "missing/../../x" cannot slip out either.
  const fs::path from = relative_to.empty() ? dir_ : fs::absolute(relative_to);
  const fs::path resolved = fs::weakly_canonical(given.is_absolute() ? given : from / given, ec);
  if (ec) throw_bad_input(prefix(where) + "path '" + source + "' cannot be resolved: " + ec.message());
  if (allows(resolved)) return resolved;
  std::string roots;
  for (const fs::path& r : roots_) roots += (roots.empty() ? "" : ", ") + r.string();
  throw_bad_input(prefix(where) + "path '" + source + "' resolves to " + resolved.string() +
                  ", outside the dataset folder " + dir_.string() + " and image_roots [" + roots +
                  "]; add a folder holding it to image_roots to allow it");
}

fs::path resolve_confined(const fs::path& dataset_dir, const std::vector<fs::path>& image_roots,
                          const std::string& source, const std::string& where) {
  return PathConfinement(dataset_dir, image_roots).resolve(source, where);
}

}  // namespace mstar::data
