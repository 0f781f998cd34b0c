// In-memory plugins and experiment files for the host's unit tests
// (make_plan, node_cache_key, the scheduler through a fake launcher): no
// plugin library is loaded, no child process started.
#pragma once

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <string>
#include <unistd.h>

#include "exec/plan.h"
#include "plugins/catalog.h"

namespace mstar::testing {

namespace fs = std::filesystem;

// A temporary directory, removed unless the test failed.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("mstar-unit-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& dir() const { return dir_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  fs::path dir_;
};

// test/gen (a dataset: `size`), test/train (input `data`, `lr`),
// test/eval (inputs `model` and `data`), test/read (a `path` param), and
// reward/fake (a component). Shapes of the built-in kinds, none of their code.
inline std::map<std::string, LoadedPlugin> fake_plugins(const std::string& version = "1.0.0") {
  auto plugin = [&](const std::string& kind, const std::string& name) {
    LoadedPlugin p;
    p.info.kind = kind;
    p.info.name = name;
    p.info.version = version;
    p.library = "/nonexistent/libmstar_" + name + ".so";
    p.sha256 = std::string(64, '0');
    return p;
  };
  std::map<std::string, LoadedPlugin> out;
  LoadedPlugin gen = plugin("test", "gen");
  gen.info.params.add(ParamSpec::integer("size").def(10).range(1, 1000));
  LoadedPlugin train = plugin("test", "train");
  train.info.params.add(ParamSpec::real("lr").def(0.1));
  train.info.inputs = {{"data", "", true, ""}};
  LoadedPlugin eval = plugin("test", "eval");
  eval.info.inputs = {{"model", "", true, ""}, {"data", "", true, ""}};
  LoadedPlugin read = plugin("test", "read");
  read.info.params.add(ParamSpec::path("file").require());
  LoadedPlugin reward = plugin("reward", "fake");
  reward.info.interface_name = "reward";
  for (auto* p : {&gen, &train, &eval, &read, &reward}) out.emplace(p->info.id(), std::move(*p));
  return out;
}

// The instance that node `node` of trial `trial` runs.
inline const NodeInstance& instance_of(const Plan& plan, size_t trial, const std::string& node) {
  for (const auto& [name, key] : plan.trials.at(trial).nodes)
    if (name == node) return plan.instances.at(key);
  throw std::runtime_error("trial " + std::to_string(trial) + " has no node " + node);
}

// The name under which the plan's trials know `node` (all use one name).
inline std::string node_name(const NodeInstance& node) { return node.users.at(0).second; }

}  // namespace mstar::testing
