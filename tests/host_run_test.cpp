// Running graphs: validation up front, parallelism, crash isolation,
// timeouts, retries, caching and --force, metrics reaching the registry.
#include <regex>

#include "host_helpers.h"

using namespace mstar::testing;

namespace {

std::string only_run(mstar::registry::Registry& reg) {
  auto runs = reg.list_runs();
  EXPECT_EQ(runs.size(), 1u);
  return runs.empty() ? "" : runs[0].id;
}

}  // namespace

TEST(HostRun, PluginsListShowsTheTestPlugins) {
  Sandbox sb;
  auto r = sb.run({"plugins", "list", "--format", "json"});
  ASSERT_EQ(r.code(), 0) << r.err;
  for (const char* name : {"echo", "sum", "sleep", "crash", "abort", "throw", "exit", "hang", "metrics"})
    EXPECT_NE(r.out.find(std::string("\"name\": \"") + name + "\""), std::string::npos) << name;
  auto info = sb.run({"plugins", "info", "test/echo"});
  ASSERT_EQ(info.code(), 0) << info.err;
  EXPECT_NE(info.out.find("count"), std::string::npos);
  EXPECT_NE(info.out.find("[0, 1000]"), std::string::npos);
}

TEST(HostRun, BadParamsAreRejectedBeforeAnythingRunsWithFileLineAndHint) {
  Sandbox sb;
  auto file = sb.write("bad.yaml",
                       "name: bad\nnodes:\n  a: {plugin: test/echo, params: {value: 1}}\n"
                       "  b: {plugin: test/echo, params: {cuont: 3, mode: z}}\n");
  auto r = sb.run({"run", file.string()});
  EXPECT_EQ(r.code(), 2) << r.err;
  EXPECT_NE(r.err.find("bad.yaml:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'count'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mode"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(sb.home() / "store")) << "nothing may run after a validation error";
}

TEST(HostRun, UnknownPluginAndCycleAreBadInput) {
  Sandbox sb;
  auto f1 = sb.write("p.yaml", "name: p\nnodes:\n  a: {plugin: test/ech}\n");
  auto r1 = sb.run({"run", f1.string()});
  EXPECT_EQ(r1.code(), 2);
  EXPECT_NE(r1.err.find("test/echo"), std::string::npos) << r1.err;
  auto f2 = sb.write("c.yaml",
                     "name: c\nnodes:\n  a: {plugin: test/sum, inputs: {a: b}}\n  b: {plugin: test/sum, inputs: {a: a}}\n");
  auto r2 = sb.run({"run", f2.string()});
  EXPECT_EQ(r2.code(), 2);
  EXPECT_NE(r2.err.find("->"), std::string::npos) << r2.err;
}

// With -j 2 the two nodes meet at a barrier: they can only finish if the
// host runs them at the same time, so the overlap does not depend on
// timing (two sleeps of 0.5 s did not always overlap under load). With -j 1
// they must not overlap: that holds for any timing.
TEST(HostRun, IndependentNodesOverlapWithTwoJobsAndNotWithOne) {
  for (int jobs : {1, 2}) {
    Sandbox sb;
    auto node = [&](const std::string& name, int value) {
      const std::string v = "value: " + std::to_string(value) + "}}\n";
      if (jobs == 1) return "  " + name + ": {plugin: test/sleep, params: {seconds: 0.2, " + v;
      return "  " + name + ": {plugin: test/barrier, params: {dir: '" + (sb.dir() / "meet").string() +
             "', timeout: 300, name: " + name + ", " + v;
    };
    auto file = sb.write("par.yaml", "name: par\nnodes:\n" + node("x", 1) + node("y", 2));
    auto r = sb.run({"run", file.string(), "-j", std::to_string(jobs)});
    ASSERT_EQ(r.code(), 0) << r.err;
    auto reg = sb.registry();
    auto nodes = nodes_of(*reg, only_run(*reg));
    const auto& x = nodes.at("x");
    const auto& y = nodes.at("y");
    const bool overlap = x.started < y.finished && y.started < x.finished;
    EXPECT_EQ(overlap, jobs == 2) << "x [" << x.started << ", " << x.finished << "] y [" << y.started << ", "
                                  << y.finished << "]";
  }
}

TEST(HostRun, ACrashingNodeFailsAloneAndItsSiblingsFinish) {
  Sandbox sb;
  auto file = sb.write("crash.yaml",
                       "name: crash\nnodes:\n"
                       "  boom: {plugin: test/crash}\n"
                       "  ok:   {plugin: test/echo, params: {value: 4}}\n"
                       "  after_ok: {plugin: test/sum, inputs: {a: ok}}\n"
                       "  after_boom: {plugin: test/sum, inputs: {a: boom}}\n"
                       "  ab: {plugin: test/abort}\n  th: {plugin: test/throw, params: {message: kaput}}\n"
                       "  ex: {plugin: test/exit, params: {code: 7}}\n");
  auto r = sb.run({"run", file.string(), "-j", "2"});
  EXPECT_EQ(r.code(), 1) << r.err;
  auto reg = sb.registry();
  const std::string run = only_run(*reg);
  auto nodes = nodes_of(*reg, run);
  EXPECT_EQ(nodes.at("boom").status, "failed");
  ASSERT_TRUE(nodes.at("boom").signal.has_value());
  EXPECT_EQ(*nodes.at("boom").signal, SIGSEGV);
  EXPECT_EQ(*nodes.at("ab").signal, SIGABRT);
  EXPECT_NE(nodes.at("th").reason.find("kaput"), std::string::npos) << nodes.at("th").reason;
  ASSERT_TRUE(nodes.at("ex").exit_code.has_value()) << nodes.at("ex").reason;
  EXPECT_EQ(*nodes.at("ex").exit_code, 7);
  EXPECT_EQ(nodes.at("ok").status, "done");
  EXPECT_EQ(nodes.at("after_ok").status, "done");
  EXPECT_EQ(nodes.at("after_boom").status, "skipped");
  EXPECT_EQ(reg->summaries(nodes.at("after_ok").cache_key).at("value"), 4.0);
  EXPECT_EQ(reg->get_run(run)->status, "failed");
  // The log of the crashed node is kept and reachable.
  auto logs = sb.run({"logs", run, "th"});
  EXPECT_EQ(logs.code(), 0);
  EXPECT_NE(logs.out.find("kaput"), std::string::npos) << logs.out;
}

TEST(HostRun, TimeoutKillsAHangingNode) {
  Sandbox sb;
  auto file = sb.write("hang.yaml", "name: hang\nnodes:\n  h: {plugin: test/hang, timeout: 0.5}\n  e: {plugin: test/echo}\n");
  auto r = sb.run({"run", file.string(), "-j", "2"});
  EXPECT_EQ(r.code(), 1);
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, only_run(*reg));
  EXPECT_EQ(nodes.at("h").status, "failed");
  EXPECT_NE(nodes.at("h").reason.find("timed out"), std::string::npos) << nodes.at("h").reason;
  EXPECT_EQ(nodes.at("e").status, "done");
}

TEST(HostRun, TransientFailuresAreRetriedButPluginErrorsAreNot) {
  Sandbox sb;
  auto file = sb.write("retry.yaml",
                       "name: retry\nnodes:\n  f: {plugin: test/flaky, params: {failures: 1}, retries: 2}\n"
                       "  t: {plugin: test/throw, retries: 3}\n");
  auto r = sb.run({"run", file.string()});
  EXPECT_EQ(r.code(), 1);
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, only_run(*reg));
  EXPECT_EQ(nodes.at("f").status, "done");
  EXPECT_EQ(nodes.at("f").attempts, 2);
  EXPECT_EQ(nodes.at("t").status, "failed");
  EXPECT_EQ(nodes.at("t").attempts, 1);
}

TEST(HostRun, CompleteArtifactsAreReusedUnlessForced) {
  Sandbox sb;
  auto file = sb.write("cache.yaml",
                       "name: cache\nnodes:\n  a: {plugin: test/echo, params: {value: 2}}\n"
                       "  s: {plugin: test/sum, inputs: {a: a}, params: {add: 1}}\n");
  ASSERT_EQ(sb.run({"run", file.string()}).code(), 0);
  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0);
  EXPECT_NE(again.out.find("0 ran, 2 cached"), std::string::npos) << again.out;
  // A changed param upstream changes the downstream key too.
  auto changed = sb.run({"run", file.string(), "a.value=5"});
  ASSERT_EQ(changed.code(), 0);
  EXPECT_NE(changed.out.find("2 ran, 0 cached"), std::string::npos) << changed.out;
  auto forced = sb.run({"run", file.string(), "--force"});
  ASSERT_EQ(forced.code(), 0);
  EXPECT_NE(forced.out.find("2 ran, 0 cached"), std::string::npos) << forced.out;
}

// The build runs its nodes through mstar-exec-node (beside mstar); a tree
// with only mstar (an older install) runs them through `mstar exec-node`.
TEST(HostRun, NodesRunWithoutMstarExecNodeBesideTheHost) {
  ASSERT_TRUE(fs::is_regular_file(fs::path(MSTAR_BINARY_DIR) / "mstar-exec-node"));
  Sandbox sb;
  const fs::path bin = sb.dir() / "bin";
  fs::create_directories(bin);
  std::error_code ec;
  fs::create_hard_link(Sandbox::mstar(), bin / "mstar", ec);  // the host finds its nodes' executable by its own path
  if (ec) fs::copy_file(Sandbox::mstar(), bin / "mstar");
  fs::create_directory_symlink(fs::path(MSTAR_BINARY_DIR) / "plugins", bin / "plugins");
  auto file = sb.write("g.yaml",
                       "name: g\nnodes:\n  a: {plugin: test/echo, params: {value: 2}}\n"
                       "  s: {plugin: test/sum, inputs: {a: a}, params: {add: 1}}\n");
  const fs::path out = sb.dir() / "out.txt", err = sb.dir() / "err.txt";
  const int code = bp::system((bin / "mstar").string(), "run", file.string(), bp::std_out > out.string(),
                              bp::std_err > err.string(), bp::std_in.close(), sb.env());
  ASSERT_EQ(code, 0) << slurp(err);
  EXPECT_NE(slurp(out).find("2 ran, 0 cached"), std::string::npos) << slurp(out);
  auto reg = sb.registry();
  const auto nodes = nodes_of(*reg, only_run(*reg));
  EXPECT_EQ(nodes.at("s").status, "done");
  EXPECT_EQ(mstar::Json::parse(slurp(fs::path(nodes.at("s").artifact_path) / "value.json")).at("value"), 3.0);
}

TEST(HostRun, MetricsAndSummariesReachTheRegistry) {
  Sandbox sb;
  auto file = sb.write("m.yaml", "name: m\nnodes:\n  m: {plugin: test/metrics, params: {steps: 1000}}\n");
  ASSERT_EQ(sb.run({"run", file.string()}).code(), 0);
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, only_run(*reg));
  auto points = reg->metrics(nodes.at("m").cache_key, {"loss"});
  ASSERT_EQ(points.size(), 1000u);
  EXPECT_DOUBLE_EQ(points[9].value, 1.0 / 10.0);
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("m").cache_key).at("final_loss"), 1.0 / 1000.0);
  auto show = sb.run({"show", only_run(*reg)});
  EXPECT_EQ(show.code(), 0);
  EXPECT_NE(show.out.find("m.final_loss"), std::string::npos) << show.out;
}

TEST(HostRun, SharedUpstreamRunsOnceAcrossTrials) {
  Sandbox sb;
  auto file = sb.write("sweep.yaml",
                       "name: sw\nnodes:\n  base: {plugin: test/echo, params: {value: 1}, seed: 1}\n"
                       "  t: {plugin: test/sum, inputs: {a: base}, params: {add: 0}}\n"
                       "sweep:\n  grid: {t.add: [1, 2, 3]}\n  seeds: [1, 2]\n");
  auto dry = sb.run({"run", file.string(), "--dry-run"});
  ASSERT_EQ(dry.code(), 0) << dry.err;
  EXPECT_NE(dry.out.find("6 trial(s)"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("7 node instance(s)"), std::string::npos) << dry.out;
  auto r = sb.run({"run", file.string(), "-j", "2"});
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_NE(r.out.find("7 ran, 0 cached"), std::string::npos) << r.out;
  auto reg = sb.registry();
  EXPECT_EQ(reg->list_runs("sw").size(), 6u);
}

// A child that exits before Boost.Process starts waiting for it is reaped
// inside bp::child's constructor; the host once decoded that status as a
// signal ("exit 7" recorded as "killed by signal 7", exit 1 as SIGHUP). Many
// instant exits side by side make that path likely on every run.
TEST(HostRun, ExitCodesOfNodesThatEndAtOnceAreRecordedExactly) {
  Sandbox sb;
  auto file = sb.write("fast.yaml",
                       "name: fast\nnodes:\n  e: {plugin: test/exit, params: {code: 1}}\n"
                       "sweep:\n  grid: {e.code: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}\n");
  auto r = sb.run({"run", file.string(), "-j", "4"});
  EXPECT_EQ(r.code(), 1);
  auto reg = sb.registry();
  int checked = 0;
  for (const auto& run : reg->list_runs("fast")) {
    const auto node = nodes_of(*reg, run.id).at("e");
    const int want = static_cast<int>(reg->params(run.id).at("e.code").get<int64_t>());
    EXPECT_FALSE(node.signal.has_value()) << "code " << want << ": " << node.reason;
    ASSERT_TRUE(node.exit_code.has_value()) << "code " << want << ": " << node.reason;
    EXPECT_EQ(*node.exit_code, want) << node.reason;
    ++checked;
  }
  EXPECT_EQ(checked, 16);
}

TEST(HostRun, MaxFailuresStopsSchedulingNewTrials) {
  Sandbox sb;
  auto file = sb.write("mf.yaml",
                       "name: mf\nnodes:\n  e: {plugin: test/exit, params: {code: 1}}\n"
                       "sweep:\n  grid: {e.code: [1, 2, 3, 4]}\n");
  auto r = sb.run({"run", file.string(), "-j", "1", "--max-failures", "2"});
  EXPECT_EQ(r.code(), 1);
  auto reg = sb.registry();
  std::map<std::string, int> by_status;
  for (const auto& run : reg->list_runs("mf")) ++by_status[run.status];
  EXPECT_EQ(by_status["failed"], 2);
  EXPECT_EQ(by_status["pending"], 2);
  // Running again with no limit finishes (fails) the rest and leaves none pending.
  auto again = sb.run({"run", file.string(), "-j", "2"});
  EXPECT_EQ(again.code(), 1);
  auto reg2 = sb.registry();
  for (const auto& run : reg2->list_runs("mf")) EXPECT_EQ(run.status, "failed") << run.id;
}

TEST(HostRun, AddingAnAxisValueRunsOnlyTheNewTrials) {
  Sandbox sb;
  auto file = sb.write("grow.yaml",
                       "name: grow\nnodes:\n  m: {plugin: test/metrics, params: {steps: 10}}\n"
                       "sweep:\n  grid: {m.scale: [1, 2]}\n  seeds: [1, 2]\n");
  ASSERT_EQ(sb.run({"run", file.string(), "-j", "2"}).code(), 0);
  sb.write("grow.yaml",
           "name: grow\nnodes:\n  m: {plugin: test/metrics, params: {steps: 10}}\n"
           "sweep:\n  grid: {m.scale: [1, 2, 3]}\n  seeds: [1, 2]\n");
  auto dry = sb.run({"run", file.string(), "--dry-run"});
  EXPECT_NE(dry.out.find("2 to run, 4 cached"), std::string::npos) << dry.out;
  auto r = sb.run({"run", file.string(), "-j", "2"});
  ASSERT_EQ(r.code(), 0);
  EXPECT_NE(r.out.find("2 ran, 4 cached"), std::string::npos) << r.out;
  EXPECT_EQ(sb.registry()->list_runs("grow").size(), 6u);
  auto status = sb.run({"status", "grow"});
  EXPECT_NE(status.out.find("done 6"), std::string::npos) << status.out;
}

TEST(HostRun, PathParamsAreFingerprintedByContent) {
  Sandbox sb;
  auto data = sb.write("data.txt", "12345");
  auto file = sb.write("read.yaml", "name: read\nnodes:\n  r: {plugin: test/read, params: {file: " + data.string() + "}}\n");
  ASSERT_EQ(sb.run({"run", file.string()}).code(), 0);
  // Same bytes, new mtime: cached.
  std::filesystem::last_write_time(data, std::filesystem::file_time_type::clock::now());
  auto same = sb.run({"run", file.string()});
  EXPECT_NE(same.out.find("0 ran, 1 cached"), std::string::npos) << same.out;
  // New bytes: recomputed.
  sb.write("data.txt", "1234567");
  auto changed = sb.run({"run", file.string()});
  EXPECT_NE(changed.out.find("1 ran, 0 cached"), std::string::npos) << changed.out;
  auto missing = sb.write("missing.yaml", "name: m\nnodes:\n  r: {plugin: test/read, params: {file: /no/such/file}}\n");
  auto r = sb.run({"run", missing.string()});
  EXPECT_EQ(r.code(), 2);
  EXPECT_NE(r.err.find("missing.yaml:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

TEST(HostRun, RunsRecordTheCommitOfTheBuild) {
  // Read at build time, not configure time: 12 hex digits, "-dirty" when
  // tracked files differed from the commit (empty outside a git checkout).
  if (!fs::exists(fs::path(MSTAR_SOURCE_DIR) / ".git")) GTEST_SKIP() << "not a git checkout";
  Sandbox sb;
  auto file = sb.write("one.yaml", "name: one\nnodes:\n  a: {plugin: test/echo}\n");
  ASSERT_EQ(sb.run({"run", file.string()}).code(), 0);
  auto reg = sb.registry();
  const auto run = reg->get_run(only_run(*reg));
  ASSERT_TRUE(run.has_value());
  const std::string commit = run->env.value("git_commit", "");
  EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{12}(-dirty)?"))) << commit;
}

// A local run shares the machine's GPUs out through CUDA_VISIBLE_DEVICES
// (here named by --gpus, as a machine without GPUs has none to detect); a
// node that asks for none sees none, and the names are passed as given.
TEST(HostRun, EachNodeSeesOnlyTheGpusItWasGiven) {
  Sandbox sb;
  auto file = sb.write("gpus.yaml", R"(name: gpus
nodes:
  one: {plugin: test/env, params: {name: CUDA_VISIBLE_DEVICES, value: 1}, resources: {gpus: 1}}
  two: {plugin: test/env, params: {name: CUDA_VISIBLE_DEVICES, value: 2}, resources: {gpus: 2}}
  none: {plugin: test/env, params: {name: CUDA_VISIBLE_DEVICES, value: 3}}
)");
  auto r = sb.run({"run", file.string(), "--gpus", "3,GPU-abc", "-j", "3"});
  ASSERT_EQ(r.code(), 0) << r.out << r.err;
  auto env_of = [&](const std::string& node) {
    auto reg = sb.registry();
    for (const auto& run : reg->list_runs())
      for (const auto& n : reg->node_runs(run.id))
        if (n.node == node) return slurp(fs::path(n.artifact_path) / "env.txt");
    return std::string("<no such node>");
  };
  EXPECT_EQ(env_of("two"), "3,GPU-abc");
  const std::string one = env_of("one");
  EXPECT_TRUE(one == "3" || one == "GPU-abc") << one;
  EXPECT_EQ(env_of("none"), "");
  auto bad = sb.run({"run", file.string(), "--gpus", "0,,1"});
  EXPECT_EQ(bad.code(), 2);
  EXPECT_NE(bad.err.find("--gpus: expected GPUs as CUDA_VISIBLE_DEVICES names them"), std::string::npos) << bad.err;
}
