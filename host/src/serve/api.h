// What `mstar serve` answers: the bundled pages and a JSON API over the
// registry's public read functions (Registry reads, Results, results_table,
// curve_chart). Read-only: the registry is opened with OpenMode::ReadOnly,
// one connection per server thread, and files are read only from inside the
// artifact store. docs/serve.md lists the endpoints.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "serve/http.h"

namespace mstar::serve {

struct ApiOptions {
  std::filesystem::path registry;  // must exist
  std::filesystem::path store;     // artifact files are served only from under here
};

// Opens the registry once (so a missing or foreign file fails at start,
// naming it) and returns the request handler.
Handler make_handler(const ApiOptions& options);

// The regular file at `relative` inside `root`, after resolving every symlink
// and `..`; nullopt when `relative` is absolute, empty, or leads outside root.
std::optional<std::filesystem::path> confined_file(const std::filesystem::path& root, const std::string& relative);

}  // namespace mstar::serve
