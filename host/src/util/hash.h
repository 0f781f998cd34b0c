// Content hashes for cache keys and trial ids. SHA-1 from Boost.UUID: keys
// name artifacts, they do not defend against an adversary.
#pragma once

#include <string>
#include <string_view>

namespace mstar {

std::string sha1_hex(std::string_view data);

}  // namespace mstar
