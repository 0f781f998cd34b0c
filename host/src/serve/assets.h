// The front-end of `mstar serve`, compiled into the binary at build time
// (embed_assets.cmake): our page, script and style, and Chart.js from
// Debian's libjs-chart.js. A static request is a lookup in this table, never
// a file system path, so `..`, encoded dots, absolute paths and symlinks have
// nothing to reach.
#pragma once

#include <string_view>
#include <vector>

namespace mstar::serve {

struct Asset {
  std::string_view url;           // "/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view data;
};

const std::vector<Asset>& assets();

// The asset at exactly `url` ("/" is "/index.html"); nullptr for any other path.
inline const Asset* find_asset(std::string_view url) {
  if (url == "/") url = "/index.html";
  for (const Asset& a : assets())
    if (a.url == url) return &a;
  return nullptr;
}

}  // namespace mstar::serve
