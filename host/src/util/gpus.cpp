#include "util/gpus.h"

#include <cstdlib>
#include <filesystem>

#include "mstar/error.h"

namespace mstar {

namespace fs = std::filesystem;

std::vector<std::string> parse_gpu_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    if (item.empty())
      throw_bad_input(what + ": expected GPUs as CUDA_VISIBLE_DEVICES names them (0,1,3), got '" + text + "'");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> visible_gpus() {
  if (const char* env = std::getenv("CUDA_VISIBLE_DEVICES")) {
    try {
      std::vector<std::string> v = parse_gpu_list(env, "CUDA_VISIBLE_DEVICES");
      // CUDA stops at the first invalid entry ("-1" hides every GPU).
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i][0] == '-') return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i)};
      return v;
    } catch (const Error&) {
      return {};
    }
  }
  std::vector<std::string> out;
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator("/proc/driver/nvidia/gpus", ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    ++n;
  for (size_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

}  // namespace mstar
