#include "plugins/catalog.h"

#include <boost/process.hpp>
#include <cstdlib>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include "util/log.h"
#include "util/paths.h"

namespace mstar {

namespace fs = std::filesystem;
namespace bp = boost::process;

namespace {

std::shared_ptr<spdlog::logger> log() { return subsystem_logger("plugins"); }

std::string fingerprint(const fs::path& lib) {
  std::error_code ec;
  auto size = fs::file_size(lib, ec);
  auto mtime = fs::last_write_time(lib, ec).time_since_epoch().count();
  return std::to_string(size) + ":" + std::to_string(mtime) + ":" + std::to_string(MSTAR_PLUGIN_API_VERSION);
}

bool looks_like_library(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.size() > 3 && name.rfind(".so") != std::string::npos && fs::is_regular_file(p);
}

// Runs `mstar probe-plugin LIB` and returns its JSON answer; a probe that
// crashed or printed nothing becomes an {"error": ...} naming the cause.
Json probe_in_child(const fs::path& lib) {
  bp::ipstream out;
  std::string line, all;
  int status = 0;
  try {
    bp::child c(self_executable().string(), "probe-plugin", lib.string(), bp::std_out > out,
                bp::std_err > bp::null, bp::std_in < bp::null);
    while (std::getline(out, line)) all += line;
    c.wait();
    status = c.native_exit_code();
  } catch (const std::exception& e) {
    return {{"error", std::string("cannot start the probe process: ") + e.what()}};
  }
  if (WIFSIGNALED(status))
    return {{"error", "crashed while loading (signal " + std::to_string(WTERMSIG(status)) +
                          "): its static initialisers failed; run `mstar probe-plugin " + lib.string() +
                          "` under gdb"}};
  try {
    return Json::parse(all);
  } catch (const std::exception&) {
    return {{"error", "probe printed no answer (exit status " + std::to_string(WEXITSTATUS(status)) + ")"}};
  }
}

std::vector<fs::path> plugin_search_dirs(const std::vector<std::string>& extra) {
  std::vector<fs::path> dirs;
  for (const auto& d : extra) dirs.emplace_back(d);
  if (const char* env = std::getenv("MSTAR_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.emplace_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.push_back(builtin_plugin_dir());
  return dirs;
}

}  // namespace

PluginCatalog PluginCatalog::discover(const std::vector<std::string>& extra_dirs, const fs::path& cache_file) {
  PluginCatalog cat;
  cat.dirs_ = plugin_search_dirs(extra_dirs);

  Json cache = Json::object();
  if (!cache_file.empty() && fs::exists(cache_file)) {
    try {
      cache = Json::parse(read_file(cache_file));
    } catch (const std::exception&) {
      cache = Json::object();  // a damaged cache only costs a re-probe
    }
  }
  bool cache_dirty = false;

  for (const auto& dir : cat.dirs_) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      log()->debug("plugin directory {} does not exist", dir.string());
      continue;
    }
    std::vector<fs::path> libs;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (looks_like_library(entry.path())) libs.push_back(fs::canonical(entry.path()));
    std::sort(libs.begin(), libs.end());
    for (const auto& lib : libs) {
      const std::string fp = fingerprint(lib);
      Json answer;
      auto hit = cache.find(lib.string());
      if (hit != cache.end() && hit->value("fingerprint", "") == fp) {
        answer = (*hit)["answer"];
      } else {
        answer = probe_in_child(lib);
        cache[lib.string()] = {{"fingerprint", fp}, {"answer", answer}};
        cache_dirty = true;
      }
      if (answer.contains("error")) {
        cat.refusals_.push_back({lib, answer["error"].get<std::string>()});
        continue;
      }
      for (const auto& meta : answer.value("plugins", Json::array())) {
        LoadedPlugin p{PluginInfo::from_json(meta), lib};
        const std::string id = p.info.id();
        auto existing = cat.plugins_.find(id);
        if (existing != cat.plugins_.end()) {
          if (existing->second.library == lib) continue;
          cat.refusals_.push_back({lib, "duplicate plugin '" + id + "': already defined by " +
                                            existing->second.library.string() +
                                            " (earlier in the search path); rename one of them"});
          continue;
        }
        cat.plugins_.emplace(id, std::move(p));
      }
    }
  }
  if (cache_dirty && !cache_file.empty()) {
    try {
      fs::create_directories(cache_file.parent_path());
      write_file_atomic(cache_file, cache.dump());
    } catch (const std::exception& e) {
      log()->warn("cannot write the plugin cache {}: {}", cache_file.string(), e.what());
    }
  }
  for (const auto& r : cat.refusals_) log()->warn("refused {}: {}", r.library.string(), r.reason);
  return cat;
}

const LoadedPlugin* PluginCatalog::find(const std::string& id) const {
  auto it = plugins_.find(id);
  return it == plugins_.end() ? nullptr : &it->second;
}

const LoadedPlugin& PluginCatalog::require(const std::string& id) const {
  if (const auto* p = find(id)) return *p;
  std::string hint = did_you_mean(id, ids());
  std::string known;
  for (const auto& k : ids()) known += (known.empty() ? "" : ", ") + k;
  throw_bad_input("unknown plugin '" + id + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                  "; known plugins: " + (known.empty() ? "(none found)" : known));
}

std::vector<std::string> PluginCatalog::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, _] : plugins_) out.push_back(id);
  return out;
}

}  // namespace mstar
