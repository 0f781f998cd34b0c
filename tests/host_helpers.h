// Helpers for tests that drive the real `mstar` binary in a private
// MSTAR_HOME: write YAML, run commands, read the registry back.
#pragma once

#include <boost/process.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <sys/wait.h>

#include "mstar/registry/registry.h"

namespace mstar::testing {

namespace fs = std::filesystem;
namespace bp = boost::process;

struct CommandResult {
  int status = 0;  // raw wait status
  std::string out, err;
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Sandbox {
 public:
  Sandbox() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("mstar-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~Sandbox() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  fs::path home() const { return dir_ / "home"; }
  fs::path write(const std::string& name, const std::string& text) const {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  bp::environment env() const {
    // set()/erase(), not operator[]: see host/src/exec/local_launcher.cpp.
    bp::environment e = boost::this_process::environment();
    e.set("MSTAR_HOME", home().string());
    e.erase("MSTAR_PLUGIN_PATH");
    if (registry_url_.empty()) e.erase("MSTAR_REGISTRY");
    else e.set("MSTAR_REGISTRY", registry_url_);
    return e;
  }
  static std::string mstar() { return std::string(MSTAR_BINARY_DIR) + "/mstar"; }

  // `extra_env`: variables set for this command only (and its nodes).
  CommandResult run(const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& extra_env = {}) const {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    // Boost.Process opens redirect targets without truncating them.
    fs::remove(out);
    fs::remove(err);
    bp::environment e = env();
    for (const auto& [k, v] : extra_env) e.set(k, v);
    bp::child c(mstar(), bp::args(args), bp::std_out > out.string(), bp::std_err > err.string(),
                bp::std_in.close(), e);
    c.wait();
    return {c.native_exit_code(), slurp(out), slurp(err)};
  }
  // Starts mstar in the background (for interrupt/kill tests).
  bp::child spawn(const std::vector<std::string>& args) const {
    return bp::child(mstar(), bp::args(args), bp::std_out > (dir_ / "bg.out").string(),
                     bp::std_err > (dir_ / "bg.err").string(), bp::std_in.close(), env());
  }
  // Where commands record (MSTAR_REGISTRY): a postgresql:// URL, or "" for
  // home()/registry.db.
  void use_registry(const std::string& url) { registry_url_ = url; }
  fs::path registry_location() const { return registry_url_.empty() ? home() / "registry.db" : fs::path(registry_url_); }
  std::unique_ptr<registry::Registry> registry() const {
    return registry::Registry::open(registry_location(), registry::OpenMode::ReadOnly);
  }

 private:
  fs::path dir_;
  std::string registry_url_;
};

// Node runs of the single run of a registry, by node name.
inline std::map<std::string, registry::NodeRunRecord> nodes_of(registry::Registry& reg, const std::string& run_id) {
  std::map<std::string, registry::NodeRunRecord> out;
  for (auto& n : reg.node_runs(run_id)) out[n.node] = n;
  return out;
}

}  // namespace mstar::testing
