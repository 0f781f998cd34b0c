// The scheduler through a FakeLauncher: what starts when, what a failure,
// a retry or an interrupt does to the rest of the graph. No child process,
// no sleep: the fake ends each attempt from a handler on the scheduler's
// io_context, the way a real launcher delivers it.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <csignal>
#include <set>

#include "exec/launcher.h"
#include "exec/node_spec.h"
#include "exec/scheduler.h"
#include "host_unit_helpers.h"
#include "mstar/artifact.h"
#include "mstar/registry/registry.h"

namespace mstar::testing {
namespace {

namespace asio = boost::asio;

// What one attempt does, decided when it starts.
struct Script {
  NodeEnd end = NodeEnd::exited(kExecOk);
  bool publish = true;          // with exit 0: leaves a complete artifact, as exec-node does
  std::vector<std::string> events;
  bool hang = false;            // ends only when cancelled or killed
  bool ignores_cancel = false;  // with hang: only kill ends it
  bool refuse = false;          // start() throws
  bool interrupt = false;       // SIGINT to the host once running
  int delay_ms = 0;             // ends this long after it starts (not hang)
};

class FakeLauncher : public Launcher {
 public:
  struct Start {
    std::string node;
    int attempt;
  };

  FakeLauncher(asio::io_context& io, std::function<Script(const std::string& node, int attempt)> script)
      : io_(io), script_(std::move(script)) {}

  void start(size_t id, const LaunchRequest& request, LaunchCallbacks callbacks) override {
    const std::string node = node_name(*request.node);
    Script s = script_(node, request.attempt);
    if (s.refuse) throw std::runtime_error("no slot for " + node);
    for (const auto& dep : request.node->deps)
      EXPECT_TRUE(published_.count(dep)) << node << " started before its input " << dep << " was published";
    EXPECT_FALSE(live_.count(id)) << "id " << id << " reused while running";
    starts.push_back({node, request.attempt});
    if (request.gpus) {
      for (const auto& g : *request.gpus) {
        EXPECT_TRUE(gpus_in_use_.insert(g).second) << "GPU " << g << " given to " << node << " while in use";
      }
      gpus_of[node] = *request.gpus;
    }
    cpus_running_ += request.node->cpus;
    max_cpus_running = std::max(max_cpus_running, cpus_running_);
    live_[id] = {node, request.spec.final_dir, request.node->key, request.node->cpus, std::move(s), std::move(callbacks)};
    max_running = std::max(max_running, live_.size());
    asio::post(io_, [this, id] { run(id); });
  }

  std::string staging_name(const NodeInstance& node, int attempt) override {
    return node.key + ".f" + std::to_string(attempt);
  }
  std::optional<bool> may_still_write(const std::string& name) override {
    asked.push_back(name);
    if (name.find(".f") == std::string::npos) return std::nullopt;
    return writing.count(name) > 0;
  }
  bool enforces_timeouts() const override { return own_timeouts; }

  void cancel(size_t id) override {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    cancelled.push_back(it->second.node);
    if (it->second.script.hang && !it->second.script.ignores_cancel) end_later(id, NodeEnd::exited(kExecCancelled));
  }

  void kill(size_t id) override {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    killed.push_back(it->second.node);
    if (it->second.script.hang) end_later(id, NodeEnd::signalled(SIGKILL));
  }

  std::vector<Start> starts;
  std::vector<std::string> cancelled, killed;
  std::set<std::string> writing;  // staging names may_still_write says yes to
  std::vector<std::string> asked;
  bool own_timeouts = false;
  std::map<std::string, std::vector<std::string>> gpus_of;  // by node: the GPUs its last attempt got

 private:
  std::vector<std::unique_ptr<asio::steady_timer>> timers_;
  std::set<std::string> gpus_in_use_;

 public:
  size_t max_running = 0;
  int max_cpus_running = 0;

  int attempts(const std::string& node) const {
    return static_cast<int>(std::count_if(starts.begin(), starts.end(), [&](const Start& s) { return s.node == node; }));
  }

 private:
  struct Live {
    std::string node;
    fs::path final_dir;
    std::string key;
    int cpus;
    Script script;
    LaunchCallbacks callbacks;
    bool ending = false;
  };

  void run(size_t id) {
    Live& l = live_.at(id);
    for (const auto& e : l.script.events) l.callbacks.event(e);
    if (l.script.interrupt) ::raise(SIGINT);
    if (l.script.hang) return;
    if (l.script.delay_ms == 0) return end_now(id, l.script.end);
    auto& t = timers_.emplace_back(std::make_unique<asio::steady_timer>(io_));
    t->expires_after(std::chrono::milliseconds(l.script.delay_ms));
    t->async_wait([this, id](const boost::system::error_code&) {
      if (live_.count(id)) end_now(id, live_.at(id).script.end);
    });
  }

  void end_later(size_t id, NodeEnd end) {
    Live& l = live_.at(id);
    if (l.ending) return;
    l.ending = true;
    asio::post(io_, [this, id, end] { end_now(id, end); });
  }

  void end_now(size_t id, NodeEnd end) {  // by value: `end` may live in the entry erased here
    Live l = std::move(live_.at(id));
    live_.erase(id);
    if (auto it = gpus_of.find(l.node); it != gpus_of.end())
      for (const auto& g : it->second) gpus_in_use_.erase(g);
    cpus_running_ -= l.cpus;
    if (end.exit_code == kExecOk && l.script.publish) {
      fs::create_directories(l.final_dir);
      std::ofstream(l.final_dir / kManifestFile) << Json{{"key", l.key}}.dump();
      published_.insert(l.key);
    }
    l.callbacks.end(end);
  }

  asio::io_context& io_;
  std::function<Script(const std::string&, int)> script_;
  std::map<size_t, Live> live_;
  std::set<std::string> published_;
  int cpus_running_ = 0;
};

// One plan run through a FakeLauncher in a private store and registry.
struct Harness {
  TempDir tmp;
  Paths paths;
  std::unique_ptr<registry::Registry> reg;
  Plan plan;

  explicit Harness(const std::string& yaml) {
    paths.home = tmp.dir() / "home";
    paths.registry = paths.home / "registry.db";
    paths.store = paths.home / "store";
    fs::create_directories(paths.home);
    reg = registry::Registry::open(paths.registry, registry::OpenMode::ReadWrite);
    plan = make_plan({tmp.write("exp.yaml", yaml), {}, {}}, fake_plugins());
  }

  RunOutcome run(FakeLauncher& launcher, asio::io_context& io, RunOptions options = {}) {
    options.cpu_budget = options.cpu_budget ? options.cpu_budget : 64;
    return execute_plan(plan, *reg, paths, options, io, launcher);
  }

  // Status of node `node` in trial `trial`, as the registry has it.
  registry::NodeRunRecord node(const std::string& name, size_t trial = 0) const {
    for (auto& n : reg->node_runs(plan.trials.at(trial).id))
      if (n.node == name) return n;
    ADD_FAILURE() << "no node run " << name;
    return {};
  }
};

Script ok(const std::string&, int) { return {}; }

TEST(Scheduler, StartsEachInstanceAfterItsInputsAndSharedWorkOnce) {
  Harness h(R"(name: dag
nodes:
  data:  {plugin: test/gen, seed: 0}
  train: {plugin: test/train, inputs: {data: data}}
  eval:  {plugin: test/eval, inputs: {model: train, data: data}}
sweep:
  grid: {train.lr: [0.1, 0.2, 0.3]}
)");
  asio::io_context io;
  FakeLauncher fake(io, ok);
  RunOptions opt;
  opt.jobs = 4;
  const RunOutcome out = h.run(fake, io, opt);
  EXPECT_EQ(out.done, 7u);
  EXPECT_EQ(out.exit_code(), 0);
  EXPECT_EQ(fake.attempts("data"), 1) << "one data instance serves the three trials";
  EXPECT_EQ(fake.attempts("train"), 3);
  EXPECT_EQ(fake.attempts("eval"), 3);
  EXPECT_EQ(fake.starts.front().node, "data");  // FakeLauncher::start checks every input was published first
  EXPECT_EQ(fake.max_running, 3u) << "the three trains run together once data is there";
  for (size_t t = 0; t < 3; ++t) EXPECT_EQ(h.node("eval", t).status, "done");
}

TEST(Scheduler, JobsAndTheCpuBudgetLimitWhatRunsAtOnce) {
  const std::string yaml = R"(name: wide
nodes:
  a: {plugin: test/gen, resources: {cpus: 2}}
sweep:
  grid: {a.size: [1, 2, 3, 4, 5, 6]}
)";
  {
    Harness h(yaml);
    asio::io_context io;
    FakeLauncher fake(io, ok);
    RunOptions opt;
    opt.jobs = 2;
    EXPECT_EQ(h.run(fake, io, opt).done, 6u);
    EXPECT_EQ(fake.max_running, 2u);
  }
  {
    Harness h(yaml);
    asio::io_context io;
    FakeLauncher fake(io, ok);
    RunOptions opt;
    opt.jobs = 6;
    opt.cpu_budget = 5;  // room for two 2-cpu nodes, not three
    EXPECT_EQ(h.run(fake, io, opt).done, 6u);
    EXPECT_EQ(fake.max_running, 2u);
    EXPECT_EQ(fake.max_cpus_running, 4);
  }
  {
    Harness h(yaml);
    asio::io_context io;
    FakeLauncher fake(io, ok);
    RunOptions opt;
    opt.jobs = 6;
    opt.cpu_budget = 1;  // narrower than any node: each still runs, alone
    EXPECT_EQ(h.run(fake, io, opt).done, 6u);
    EXPECT_EQ(fake.max_running, 1u);
  }
}

TEST(Scheduler, AFailedNodeSkipsItsDependantsButNotItsSiblings) {
  Harness h(R"(name: fail
nodes:
  data:    {plugin: test/gen}
  bad:     {plugin: test/train, inputs: {data: data}, params: {lr: 0.5}}
  after:   {plugin: test/eval, inputs: {model: bad, data: data}}
  sibling: {plugin: test/train, inputs: {data: data}, params: {lr: 0.1}}
  cousin:  {plugin: test/eval, inputs: {model: sibling, data: data}}
)");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string& node, int) {
    Script s;
    if (node == "bad") {
      s.end = NodeEnd::exited(kExecFailed);
      s.events = {R"({"t":"error","message":"the plugin said no"})"};
    }
    return s;
  });
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(out.failed, 1u);
  EXPECT_EQ(out.skipped, 1u);
  EXPECT_EQ(out.done, 3u);
  EXPECT_EQ(out.exit_code(), 1);
  EXPECT_EQ(fake.attempts("after"), 0);
  EXPECT_EQ(h.node("bad").status, "failed");
  EXPECT_EQ(h.node("bad").reason, "the plugin said no") << "the node's error event is the reason";
  EXPECT_EQ(h.node("bad").exit_code, kExecFailed);
  EXPECT_EQ(h.node("after").status, "skipped");
  EXPECT_NE(h.node("after").reason.find("upstream test/train"), std::string::npos) << h.node("after").reason;
  EXPECT_EQ(h.node("sibling").status, "done");
  EXPECT_EQ(h.node("cousin").status, "done");
}

TEST(Scheduler, ALauncherThatCannotStartANodeFailsItWithTheLaunchersReason) {
  Harness h("name: refuse\nnodes:\n  data: {plugin: test/gen}\n  train: {plugin: test/train, inputs: {data: data}}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string& node, int) {
    Script s;
    s.refuse = node == "data";
    return s;
  });
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(out.failed, 1u);
  EXPECT_EQ(out.skipped, 1u);
  EXPECT_EQ(h.node("data").reason, "no slot for data");
  EXPECT_EQ(h.node("train").status, "skipped");
}

TEST(Scheduler, SignalsAndLostAttemptsAreRetriedExitCodesAreNot) {
  Harness h(R"(name: retry
nodes:
  flaky:  {plugin: test/gen, params: {size: 1}, retries: 2}
  lost:   {plugin: test/gen, params: {size: 2}, retries: 1}
  broken: {plugin: test/gen, params: {size: 3}, retries: 2}
  doomed: {plugin: test/gen, params: {size: 4}, retries: 1}
  silent: {plugin: test/gen, params: {size: 5}, retries: 2}
)");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string& node, int attempt) {
    Script s;
    if (node == "flaky" && attempt < 3) s.end = NodeEnd::signalled(SIGKILL);
    if (node == "lost" && attempt == 1) s.end = NodeEnd::lost_because("job 42 ended NODE_FAIL");
    if (node == "broken") s.end = NodeEnd::exited(kExecFailed);
    if (node == "doomed") s.end = NodeEnd::signalled(SIGSEGV);
    if (node == "silent") s.end = NodeEnd::exited(7);
    return s;
  });
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(fake.attempts("flaky"), 3);
  EXPECT_EQ(h.node("flaky").status, "done");
  EXPECT_EQ(h.node("flaky").attempts, 3);
  EXPECT_EQ(fake.attempts("lost"), 2);
  EXPECT_EQ(h.node("lost").status, "done");
  EXPECT_EQ(fake.attempts("broken"), 1) << "a plugin error fails the same way again";
  EXPECT_EQ(h.node("broken").reason, "exited with code 1");
  EXPECT_EQ(fake.attempts("doomed"), 2);
  EXPECT_EQ(h.node("doomed").status, "failed");
  EXPECT_EQ(h.node("doomed").signal, SIGSEGV);
  EXPECT_NE(h.node("doomed").reason.find("killed by signal 11"), std::string::npos) << h.node("doomed").reason;
  EXPECT_EQ(fake.attempts("silent"), 1);
  EXPECT_EQ(h.node("silent").exit_code, 7);
  EXPECT_EQ(out.failed, 3u);
}

TEST(Scheduler, ExitZeroWithoutAnArtifactIsAFailure) {
  Harness h("name: empty\nnodes:\n  data: {plugin: test/gen}\n  train: {plugin: test/train, inputs: {data: data}}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.publish = false;
    return s;
  });
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(out.failed, 1u);
  EXPECT_EQ(h.node("data").reason, "exited with code 0 without publishing an artifact");
  EXPECT_EQ(h.node("train").status, "skipped");
}

TEST(Scheduler, EventsReachTheRegistryAndJunkOnTheChannelIsIgnored) {
  Harness h("name: events\nnodes:\n  data: {plugin: test/gen}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.events = {R"({"t":"m","step":1,"k":"loss","v":0.5,"time":1.0})", "a plugin printed this",
                R"({"t":"m","step":2,"k":"loss","v":0.25,"time":2.0})", R"({"t":"s","k":"accuracy","v":0.75})"};
    return s;
  });
  EXPECT_EQ(h.run(fake, io).done, 1u);
  const std::string key = h.node("data").cache_key;
  const auto points = h.reg->metrics(key, {"loss"});
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[1].step, 2);
  EXPECT_DOUBLE_EQ(points[1].value, 0.25);
  EXPECT_DOUBLE_EQ(h.reg->summaries(key).at("accuracy"), 0.75);
}

TEST(Scheduler, AnInterruptCancelsRunningNodesAndStartsNothingMore) {
  Harness h(R"(name: stop
nodes:
  a:     {plugin: test/gen, params: {size: 1}}
  b:     {plugin: test/gen, params: {size: 2}}
  later: {plugin: test/train, inputs: {data: a}}
)");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string& node, int) {
    Script s;
    s.hang = true;
    s.interrupt = node == "b";
    return s;
  });
  RunOptions opt;
  opt.jobs = 2;
  const RunOutcome out = h.run(fake, io, opt);
  EXPECT_TRUE(out.was_interrupted);
  EXPECT_EQ(out.exit_code(), 130);
  EXPECT_EQ(out.interrupted, 2u);
  std::sort(fake.cancelled.begin(), fake.cancelled.end());
  EXPECT_EQ(fake.cancelled, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(fake.killed.empty()) << "both stopped within the grace period";
  EXPECT_EQ(fake.attempts("later"), 0);
  EXPECT_EQ(h.node("a").status, "interrupted");
  EXPECT_EQ(h.node("a").exit_code, kExecCancelled);
  EXPECT_EQ(h.node("later").status, "pending");
}

TEST(Scheduler, ANodeThatIgnoresTheCancelIsKilledAfterTheGrace) {
  Harness h("name: stubborn\nnodes:\n  a: {plugin: test/gen, retries: 3}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.hang = true;
    s.ignores_cancel = true;
    s.interrupt = true;
    return s;
  });
  RunOptions opt;
  opt.grace_s = 0;
  const RunOutcome out = h.run(fake, io, opt);
  EXPECT_EQ(fake.cancelled, std::vector<std::string>{"a"});
  EXPECT_EQ(fake.killed, std::vector<std::string>{"a"});
  EXPECT_EQ(fake.attempts("a"), 1) << "an interrupted node is not retried";
  EXPECT_EQ(out.interrupted, 1u);
  EXPECT_EQ(h.node("a").signal, SIGKILL);
}

TEST(Scheduler, ATimedOutNodeIsKilledAndRetried) {
  Harness h("name: slow\nnodes:\n  a: {plugin: test/gen, timeout: 0.01, retries: 1}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int attempt) {
    Script s;
    s.hang = attempt == 1;
    return s;
  });
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(fake.killed, std::vector<std::string>{"a"});
  EXPECT_EQ(fake.attempts("a"), 2);
  EXPECT_EQ(out.done, 1u);
}

// A launcher that enforces timeouts itself (Slurm's --time) gets no timer
// from the scheduler: queue time must not count.
TEST(Scheduler, ALauncherThatEnforcesTimeoutsIsNotRaced) {
  Harness h("name: slow\nnodes:\n  a: {plugin: test/gen, timeout: 0.01}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.delay_ms = 200;
    return s;
  });
  fake.own_timeouts = true;
  const RunOutcome out = h.run(fake, io);
  EXPECT_EQ(out.done, 1u);
  EXPECT_TRUE(fake.killed.empty());
}

// Staging entries (KEY.TAG and its sidecars) are removed only when the
// launcher that made them says nothing may still write them; another
// launcher's are left alone.
TEST(Scheduler, StaleStagingIsRemovedOnlyWhenItsLauncherSaysSo) {
  Harness h("name: one\nnodes:\n  a: {plugin: test/gen}\n");
  const fs::path tmp = h.paths.artifacts().staging_root();
  for (const char* p : {"k1.fa", "k2.fb", "k3.12345"}) fs::create_directories(tmp / p);
  for (const char* p : {"k1.fa.events", "k2.fb.events", "k2.fb.spec.json"}) std::ofstream(tmp / p) << "x";
  asio::io_context io;
  FakeLauncher fake(io, ok);
  fake.writing = {"k1.fa"};
  EXPECT_EQ(h.run(fake, io).done, 1u);
  EXPECT_TRUE(fs::exists(tmp / "k1.fa") && fs::exists(tmp / "k1.fa.events")) << "its job may still be writing";
  EXPECT_FALSE(fs::exists(tmp / "k2.fb") || fs::exists(tmp / "k2.fb.events") || fs::exists(tmp / "k2.fb.spec.json"));
  EXPECT_TRUE(fs::exists(tmp / "k3.12345")) << "not this launcher's to judge";
  EXPECT_EQ(std::count(fake.asked.begin(), fake.asked.end(), "k2.fb"), 1) << "asked once per attempt, not per file";
}

// GPUs are shared out: a node gets resources.gpus of them and no other
// running node has those; one asking more than the machine has fails, and a
// node waiting for GPUs does not hold back one that needs none.
TEST(Scheduler, GpusAreSharedOutAmongRunningNodes) {
  Harness h(R"(name: gpus
nodes:
  a: {plugin: test/gen, resources: {gpus: 2}}
  b: {plugin: test/gen, params: {size: 2}, resources: {gpus: 2}}
  c: {plugin: test/gen, params: {size: 3}, resources: {gpus: 1}}
  cpu: {plugin: test/gen, params: {size: 4}}
  big: {plugin: test/gen, params: {size: 5}, resources: {gpus: 4}}
)");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.delay_ms = 20;
    return s;
  });
  RunOptions opt;
  opt.jobs = 8;
  opt.gpus = std::vector<std::string>{"0", "2", "5"};
  const RunOutcome out = h.run(fake, io, opt);
  EXPECT_EQ(out.done, 4u);
  EXPECT_EQ(out.failed, 1u);
  EXPECT_EQ(fake.gpus_of["a"].size(), 2u);
  EXPECT_EQ(fake.gpus_of["b"].size(), 2u);
  EXPECT_EQ(fake.gpus_of["c"].size(), 1u);
  EXPECT_TRUE(fake.gpus_of["cpu"].empty()) << "a node that asks for no GPU sees none";
  EXPECT_NE(h.node("big").reason.find("asks for 4 GPUs (resources.gpus) and this machine offers 3"), std::string::npos)
      << h.node("big").reason;
  // a and c fit together (3 GPUs); b waits for a, and cpu does not wait for b.
  size_t cpu_pos = 0, b_pos = 0;
  for (size_t i = 0; i < fake.starts.size(); ++i) {
    if (fake.starts[i].node == "cpu") cpu_pos = i;
    if (fake.starts[i].node == "b") b_pos = i;
  }
  EXPECT_LT(cpu_pos, b_pos);
}

TEST(Scheduler, MaxFailuresStopsStartingNewTrials) {
  Harness h("name: limit\nnodes:\n  a: {plugin: test/gen}\nsweep:\n  grid: {a.size: [1, 2, 3, 4]}\n");
  asio::io_context io;
  FakeLauncher fake(io, [](const std::string&, int) {
    Script s;
    s.end = NodeEnd::exited(kExecFailed);
    return s;
  });
  RunOptions opt;
  opt.fail_fast = true;
  const RunOutcome out = h.run(fake, io, opt);
  EXPECT_EQ(fake.starts.size(), 1u);
  EXPECT_EQ(out.failed, 1u);
  EXPECT_EQ(out.trials_failed, 1u);
  EXPECT_EQ(out.exit_code(), 1);
}

TEST(Scheduler, ACompleteArtifactIsNotStartedAgainUnlessForced) {
  Harness h("name: cache\nnodes:\n  data: {plugin: test/gen}\n  train: {plugin: test/train, inputs: {data: data}}\n");
  {
    asio::io_context io;
    FakeLauncher fake(io, ok);
    EXPECT_EQ(h.run(fake, io).done, 2u);
  }
  {
    asio::io_context io;
    FakeLauncher fake(io, ok);
    const RunOutcome out = h.run(fake, io);
    EXPECT_EQ(out.cached, 2u);
    EXPECT_TRUE(fake.starts.empty());
  }
  {
    asio::io_context io;
    FakeLauncher fake(io, ok);
    RunOptions opt;
    opt.force = true;
    EXPECT_EQ(h.run(fake, io, opt).done, 2u);
    EXPECT_EQ(fake.starts.size(), 2u);
  }
}

}  // namespace
}  // namespace mstar::testing
