#include "mstar/artifact.h"

#include <fstream>
#include <sstream>
#include <unistd.h>

#include "mstar/error.h"

namespace mstar {

namespace fs = std::filesystem;

Artifact Artifact::open(const fs::path& dir) {
  const fs::path manifest = dir / kManifestFile;
  if (!fs::exists(manifest)) throw_io("artifact " + dir.string() + " is incomplete: no " + kManifestFile);
  try {
    return Artifact(dir, Json::parse(read_file(manifest)));
  } catch (const Json::exception& e) {
    throw_io(manifest.string() + ": not valid JSON: " + e.what());
  }
}

bool Artifact::is_complete(const fs::path& dir) { return fs::is_regular_file(dir / kManifestFile); }

std::string Artifact::key() const { return manifest_.value("key", ""); }
std::string Artifact::producer() const { return manifest_.value("plugin", ""); }

fs::path Artifact::file(const std::string& relative) const {
  fs::path p = dir_ / relative;
  if (!fs::exists(p)) throw_io("artifact " + dir_.string() + " (from " + producer() + ") has no " + relative);
  return p;
}

void write_file_atomic(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw_io("cannot write " + tmp.string());
    out << text;
    out.flush();
    if (!out) throw_io("failed writing " + tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw_io("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mstar
