#include "util/hash.h"

#include <boost/uuid/detail/sha1.hpp>
#include <cstdio>

namespace mstar {

std::string sha1_hex(std::string_view data) {
  boost::uuids::detail::sha1 h;
  h.process_bytes(data.data(), data.size());
  boost::uuids::detail::sha1::digest_type digest;
  h.get_digest(digest);
  char out[41];
  for (int i = 0; i < 5; ++i) std::snprintf(out + 8 * i, 9, "%08x", digest[i]);
  return std::string(out, 40);
}

}  // namespace mstar
