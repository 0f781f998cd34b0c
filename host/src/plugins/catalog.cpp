#include "plugins/catalog.h"

#include <boost/process.hpp>
#include <cstdlib>
#include <spdlog/spdlog.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/hash.h"
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
  // A probe answer holds only for the host that probed: another API or
  // build (abi.h) may accept or refuse the same file differently.
  const BuildAbi abi = host_build_abi();
  return std::to_string(size) + ":" + std::to_string(mtime) + ":" + std::to_string(MSTAR_PLUGIN_API_VERSION) + ":" +
         std::to_string(abi.json_version) + "." + std::to_string(abi.json_size) + "." +
         std::to_string(abi.string_size) + "." + std::to_string(abi.cxx11_abi) + "." +
         std::to_string(abi.torch_version) + ":probe2";
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

// A group named like its only user, with no other members (Debian's "user
// private groups", where umask 002 is usual): its write bit lets nobody else
// in, so it is no reason to refuse (OpenSSH's StrictModes allows it too).
bool is_private_group_of(gid_t gid, uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  const group* gr = ::getgrgid(gid);
  if (!pw || !gr || pw->pw_gid != gid || std::string(pw->pw_name) != gr->gr_name) return false;
  return gr->gr_mem == nullptr || gr->gr_mem[0] == nullptr;
}

}  // namespace

std::string plugin_trust_problem(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot stat it";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  const bool group_writable = (st.st_mode & S_IWGRP) && !is_private_group_of(st.st_gid, st.st_uid);
  if ((st.st_mode & S_IWOTH) || group_writable)
    return std::string("is ") + ((st.st_mode & S_IWOTH) ? "world" : "group") + "-writable (mode " + mode +
           "), so someone else could replace what mstar runs; fix it with `chmod go-w " + path.string() +
           "`, or pass --trust-plugin-dir";
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return "is owned by uid " + std::to_string(st.st_uid) + ", neither root nor you (uid " +
           std::to_string(::geteuid()) + "); pass --trust-plugin-dir if you trust it";
  return "";
}

PluginCatalog PluginCatalog::discover(const std::vector<std::string>& extra_dirs, const fs::path& cache_file,
                                      bool trust_all) {
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
    if (std::string why = trust_all ? "" : plugin_trust_problem(fs::canonical(dir, ec)); !why.empty()) {
      cat.refusals_.push_back({dir, "plugin directory " + why});
      continue;
    }
    std::vector<fs::path> libs;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (looks_like_library(entry.path())) libs.push_back(fs::canonical(entry.path()));
    std::sort(libs.begin(), libs.end());
    for (const auto& lib : libs) {
      // Checked before the probe: probing loads the library, running its code.
      if (std::string why = trust_all ? "" : plugin_trust_problem(lib); !why.empty()) {
        cat.refusals_.push_back({lib, why});
        continue;
      }
      const std::string fp = fingerprint(lib);
      Json answer;
      std::string sha256;
      auto hit = cache.find(lib.string());
      if (hit != cache.end() && hit->value("fingerprint", "") == fp && hit->contains("sha256")) {
        answer = (*hit)["answer"];
        sha256 = (*hit)["sha256"].get<std::string>();
      } else {
        answer = probe_in_child(lib);
        try {
          sha256 = sha256_file_hex(lib);
        } catch (const Error& e) {
          answer = {{"error", e.what()}};
        }
        cache[lib.string()] = {{"fingerprint", fp}, {"answer", answer}, {"sha256", sha256}};
        cache_dirty = true;
      }
      if (answer.contains("error")) {
        cat.refusals_.push_back({lib, answer["error"].get<std::string>()});
        continue;
      }
      for (const auto& meta : answer.value("plugins", Json::array())) {
        LoadedPlugin p{PluginInfo::from_json(meta), lib, sha256, answer.value("libtorch", "")};
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
