// Content fingerprints of files and directories that nodes read (params of
// type `path`): they enter the cache key, so editing a checkpoint or a data
// file invalidates the nodes that read it, while a fresh clone (new mtimes,
// same bytes) still hits the cache.
#pragma once

#include <filesystem>
#include <string>

namespace mstar {

// SHA-1 over every regular file below `path` (relative name, size, bytes),
// in sorted order. Past `content_limit` bytes in all, only names and sizes
// count (huge datasets): fast, and still catches most edits.
std::string fingerprint_path(const std::filesystem::path& path, uintmax_t content_limit = uintmax_t{256} << 20);

}  // namespace mstar
