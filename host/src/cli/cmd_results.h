// Helpers shared by the result commands (results, metrics, diff, export,
// plot, report, registry): defined in cmd_results.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "mstar/registry/registry.h"

namespace mstar::cli {

// "a,b" "c" -> a, b, c (blank items dropped).
std::vector<std::string> split_list(const std::vector<std::string>& values);
std::unique_ptr<registry::Registry> open_registry_ro(const StoreOptions& so);
// To the file, or stdout for "" / "-"; Error(Io) when it can not be written.
void write_output(const std::string& path, const std::string& text);

}  // namespace mstar::cli
