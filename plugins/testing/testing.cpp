// test/* plugins: small, deterministic behaviours the host must survive or
// use (echo, sum, sleep, barrier, crash, abort, throw, exit, hang, metrics,
// flaky).
// Each writes value.json {"value": x} so downstream nodes can add them up.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "mstar/plugin.h"
#include "mstar/reward.h"

namespace {

using mstar::Json;
using mstar::NodeContext;
using mstar::ParamSpec;
using mstar::PluginInfo;

PluginInfo test_info(const char* name, const char* description) {
  PluginInfo info;
  info.kind = "test";
  info.name = name;
  info.version = "1.0.0";
  info.description = description;
  return info;
}

void write_value(NodeContext& ctx, double value) {
  std::ofstream(ctx.output_dir() / "value.json") << Json{{"value", value}}.dump();
  ctx.summary("value", value);
}

double read_value(const mstar::Artifact& a) {
  return Json::parse(mstar::read_file(a.file("value.json"))).at("value").get<double>();
}

// Sleeps in short slices so that a stop request is honoured quickly.
bool sleep_for(NodeContext& ctx, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ctx.cancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class Echo {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("echo", "Writes its params to params.json and `value` to value.json.");
    i.params.add(ParamSpec::real("value").def(1.0).describe("the value written and summarised"))
        .add(ParamSpec::string("message").def("hello").describe("free text, echoed to params.json"))
        .add(ParamSpec::enumeration("mode", {"a", "b", "c"}).def("a").describe("a choice, for validation tests"))
        .add(ParamSpec::integer("count").def(1).range(0, 1000).describe("an int with a range"))
        .add(ParamSpec::list("tags", "string").def(Json::array()).describe("a list of strings"));
    i.outputs = {{"", "test", "params.json and value.json"}};
    i.examples = {"nodes:\n  a: {plugin: test/echo, params: {value: 2}}"};
    return i;
  }
  void run(NodeContext& ctx) {
    std::ofstream(ctx.output_dir() / "params.json") << ctx.params().json().dump(2);
    write_value(ctx, ctx.params().get_float("value"));
  }
};
MSTAR_PLUGIN(Echo)

class Sum {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("sum", "Adds `add` and the values of its inputs a, b, c (any that are wired).");
    i.params.add(ParamSpec::real("add").def(0.0).describe("added to the inputs' sum"));
    i.inputs = {{"a", "", false, "upstream with value.json"}, {"b", "", false, "upstream"}, {"c", "", false, "upstream"}};
    return i;
  }
  void run(NodeContext& ctx) {
    double total = ctx.params().get_float("add");
    for (const auto& name : ctx.input_names()) total += read_value(*ctx.input(name));
    write_value(ctx, total);
  }
};
MSTAR_PLUGIN(Sum)

class Sleep {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("sleep", "Sleeps `seconds`, honouring cancellation, then writes `value`.");
    i.params.add(ParamSpec::real("seconds").def(1.0).range(0, 86400).describe("how long"))
        .add(ParamSpec::real("value").def(0.0).describe("written to value.json"));
    i.inputs = {{"after", "", false, "an upstream to wait for (ordering tests)"}};
    return i;
  }
  void run(NodeContext& ctx) {
    if (!sleep_for(ctx, ctx.params().get_float("seconds"))) return;
    write_value(ctx, ctx.params().get_float("value"));
  }
};
MSTAR_PLUGIN(Sleep)

// A rendezvous between nodes, possibly of different hosts: each arrives by
// creating DIR/NAME.arrived, then waits until `parties` have arrived. Tests
// use it to force two things to run at the same time instead of hoping that
// timing makes them overlap; the bounded wait fails the node (and so the
// test) rather than hanging when the other party never comes.
class Barrier {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("barrier", "Waits until `parties` nodes (NAMEs) have arrived in `dir`, then writes `value`.");
    i.params.add(ParamSpec::string("dir").describe("a directory every party sees"))
        .add(ParamSpec::string("name").describe("this party's name, unique among the parties"))
        .add(ParamSpec::integer("parties").def(2).range(1, 1000).describe("how many must arrive"))
        .add(ParamSpec::real("timeout").def(120.0).range(0, 86400).describe("seconds to wait before failing"))
        .add(ParamSpec::real("value").def(0.0).describe("written to value.json"));
    i.inputs = {{"after", "", false, "an upstream to wait for"}};
    return i;
  }
  void run(NodeContext& ctx) {
    namespace fs = std::filesystem;
    const fs::path dir = ctx.params().get_string("dir");
    fs::create_directories(dir);
    std::ofstream(dir / (ctx.params().get_string("name") + ".arrived")) << "";
    const auto parties = static_cast<size_t>(ctx.params().get_int("parties"));
    auto arrived = [&] {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".arrived") names.push_back(e.path().stem().string());
      return names;
    };
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(ctx.params().get_float("timeout"));
    while (arrived().size() < parties) {
      if (ctx.cancelled()) return;
      if (std::chrono::steady_clock::now() > deadline) {
        std::string who;
        for (const auto& n : arrived()) who += " " + n;
        throw std::runtime_error("barrier: " + std::to_string(arrived().size()) + " of " + std::to_string(parties) +
                                 " parties arrived before the timeout:" + who);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    write_value(ctx, ctx.params().get_float("value"));
  }
};
MSTAR_PLUGIN(Barrier)

class Crash {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("crash", "Dereferences a null pointer after `delay` seconds (SIGSEGV).");
    i.params.add(ParamSpec::real("delay").def(0.0).describe("seconds before crashing"));
    return i;
  }
  void run(NodeContext& ctx) {
    sleep_for(ctx, ctx.params().get_float("delay"));
    std::raise(SIGSEGV);
  }
};
MSTAR_PLUGIN(Crash)

class Abort {
 public:
  static PluginInfo info() { return test_info("abort", "Calls std::abort() (SIGABRT)."); }
  void run(NodeContext&) { std::abort(); }
};
MSTAR_PLUGIN(Abort)

class Throw {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("throw", "Throws std::runtime_error(message).");
    i.params.add(ParamSpec::string("message").def("boom").describe("the exception's message"));
    return i;
  }
  void run(NodeContext& ctx) { throw std::runtime_error(ctx.params().get_string("message")); }
};
MSTAR_PLUGIN(Throw)

class Exit {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("exit", "Ends the process with exit(code), skipping the host's protocol.");
    i.params.add(ParamSpec::integer("code").def(3).range(0, 255).describe("exit status"));
    return i;
  }
  void run(NodeContext& ctx) { std::_Exit(static_cast<int>(ctx.params().get_int("code"))); }
};
MSTAR_PLUGIN(Exit)

class Hang {
 public:
  static PluginInfo info() {
    return test_info("hang", "Never returns and ignores cancellation: only SIGKILL (timeout, grace) ends it.");
  }
  void run(NodeContext&) {
    for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
};
MSTAR_PLUGIN(Hang)

class Metrics {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("metrics", "Logs `steps` points of loss = 1/(1+step) and acc, then summaries.");
    i.params.add(ParamSpec::integer("steps").def(1000).range(1, 10000000).describe("points per series"))
        .add(ParamSpec::real("scale").def(1.0).describe("multiplies every value"))
        .add(ParamSpec::real("seconds").def(0.0).range(0, 3600).describe("spread the logging over this long"));
    return i;
  }
  void run(NodeContext& ctx) {
    const int64_t steps = ctx.params().get_int("steps");
    const double scale = ctx.params().get_float("scale");
    const double pause = ctx.params().get_float("seconds") / static_cast<double>(steps);
    double loss = 0;
    for (int64_t s = 0; s < steps; ++s) {
      if (ctx.cancelled()) return;
      loss = scale / (1.0 + static_cast<double>(s));
      ctx.log(s, "loss", loss);
      ctx.log(s, "acc", scale * static_cast<double>(s) / static_cast<double>(steps));
      if (pause > 0 && !sleep_for(ctx, pause)) return;
    }
    ctx.summary("final_loss", loss);
    write_value(ctx, scale * static_cast<double>(ctx.seed()));
  }
};
MSTAR_PLUGIN(Metrics)

class Flaky {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("flaky", "Kills itself with SIGKILL on its first `failures` attempts (counted in "
                                      "its resume directory), then succeeds: a transient failure.");
    i.params.add(ParamSpec::integer("failures").def(1).range(0, 100).describe("attempts that die first"));
    return i;
  }
  void run(NodeContext& ctx) {
    const auto counter = ctx.resume_dir() / "attempts";
    int seen = 0;
    if (std::ifstream in{counter}) in >> seen;
    std::ofstream(counter) << seen + 1;
    if (seen < ctx.params().get_int("failures")) std::raise(SIGKILL);
    write_value(ctx, seen);
  }
};
MSTAR_PLUGIN(Flaky)

class Read {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("read", "value = the size in bytes of `file` (a path param: its content is in the cache key).");
    i.params.add(ParamSpec::path("file").require().describe("a file to read"));
    return i;
  }
  void run(NodeContext& ctx) { write_value(ctx, static_cast<double>(mstar::read_file(ctx.params().get_string("file")).size())); }
};
MSTAR_PLUGIN(Read)

class Env {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("env", "Writes the environment variable `name` (\"<unset>\" when unset) to env.txt.");
    i.params.add(ParamSpec::string("name").require().describe("the variable, e.g. CUDA_VISIBLE_DEVICES"))
        .add(ParamSpec::real("value").def(0.0).describe("written to value.json (makes distinct instances)"));
    return i;
  }
  void run(NodeContext& ctx) {
    const char* v = std::getenv(ctx.params().get_string("name").c_str());
    std::ofstream(ctx.output_dir() / "env.txt") << (v ? v : "<unset>");
    write_value(ctx, ctx.params().get_float("value"));
  }
};
MSTAR_PLUGIN(Env)

// Scores fixed responses with a reward component built from its params:
// how the host's component mechanism is exercised without LibTorch.
class Score {
 public:
  static PluginInfo info() {
    PluginInfo i = test_info("score", "Scores `cases` ([{response, answer, ...}]) with the `reward` component.");
    i.params.add(ParamSpec::plugin("reward", "reward").def(Json{{"plugin", "reward/tfq"}}).describe("the reward"))
        .add(ParamSpec::list("cases").def(Json::array()).describe("samples with a `response` field"));
    return i;
  }
  void run(NodeContext& ctx) {
    auto reward = mstar::make_component<mstar::RewardFunction>(ctx, ctx.params().get("reward"));
    double total = 0;
    Json scored = Json::array();
    for (const Json& c : ctx.params().get("cases")) {
      mstar::RewardResult r = reward->score(c.value("response", ""), c);
      total += r.overall;
      scored.push_back({{"overall", r.overall}, {"components", r.components}});
    }
    std::ofstream(ctx.output_dir() / "scores.json") << scored.dump(2);
    write_value(ctx, total);
  }
};
MSTAR_PLUGIN(Score)

}  // namespace
