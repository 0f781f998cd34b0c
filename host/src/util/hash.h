// Content hashes for cache keys and trial ids. SHA-1 from Boost.UUID: keys
// name artifacts, they do not defend against an adversary.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace mstar {

std::string sha1_hex(std::string_view data);

// SHA-256 of a file's bytes (OpenSSL), as 64 hex digits: what a run records
// of each plugin library, so a result traces to the exact binary. Throws
// Error(Io) naming the file if it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& file);

}  // namespace mstar
