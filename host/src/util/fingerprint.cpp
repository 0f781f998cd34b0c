#include "util/fingerprint.h"

#include <algorithm>
#include <boost/uuid/detail/sha1.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "mstar/error.h"

namespace mstar {

namespace fs = std::filesystem;

std::string fingerprint_path(const fs::path& path, uintmax_t content_limit) {
  std::vector<fs::path> files;
  if (fs::is_regular_file(path)) {
    files.push_back(path);
  } else if (fs::is_directory(path)) {
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
  } else {
    throw_bad_input("no such file or directory: " + path.string());
  }
  uintmax_t total = 0;
  for (const auto& f : files) total += fs::file_size(f);
  const bool with_content = total <= content_limit;

  boost::uuids::detail::sha1 h;
  std::vector<char> buffer(1 << 16);
  for (const auto& f : files) {
    const std::string header = fs::relative(f, fs::is_directory(path) ? path : path.parent_path()).string() + "\n" +
                               std::to_string(fs::file_size(f)) + "\n";
    h.process_bytes(header.data(), header.size());
    if (!with_content) continue;
    std::ifstream in(f, std::ios::binary);
    if (!in) throw_io("cannot read " + f.string());
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      h.process_bytes(buffer.data(), static_cast<size_t>(in.gcount()));
    }
  }
  boost::uuids::detail::sha1::digest_type digest;
  h.get_digest(digest);
  char out[41];
  for (int i = 0; i < 5; ++i) std::snprintf(out + 8 * i, 9, "%08x", digest[i]);
  return std::string(with_content ? "sha1:" : "names+sizes:") + std::string(out, 40);
}

}  // namespace mstar
