// Interrupting and killing the host: the same command run again completes
// exactly what is missing, recomputes nothing that finished, and the
// registry ends as an uninterrupted run's would.
#include <chrono>
#include <csignal>
#include <thread>

#include "host_helpers.h"

using namespace mstar::testing;

namespace {

// Waits (bounded) until some node of the sweep reaches `status`. Polling a
// condition in the registry, not a fixed sleep: the test does not depend on
// timing, only on the order of events.
bool wait_for_node(const Sandbox& sb, const std::string& node, const std::string& status, int max_ms = 20000) {
  for (int waited = 0; waited < max_ms; waited += 20) {
    if (fs::exists(sb.home() / "registry.db")) {
      try {
        auto reg = sb.registry();
        for (const auto& run : reg->list_runs())
          for (const auto& n : reg->node_runs(run.id))
            if (n.node == node && n.status == status) return true;
      } catch (const std::exception&) {
        // the first writer may still be creating the schema
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

size_t attempts_logged(const fs::path& log) {
  const std::string text = slurp(log);
  size_t n = 0;
  for (size_t pos = text.find("=== mstar:"); pos != std::string::npos; pos = text.find("=== mstar:", pos + 1)) ++n;
  return n;
}

}  // namespace

TEST(Resume, InterruptStopsGracefullyAndRerunFinishesTheRest) {
  Sandbox sb;
  auto file = sb.write("slow.yaml",
                       "name: slow\nnodes:\n  a: {plugin: test/echo}\n"
                       "  b: {plugin: test/sleep, inputs: {after: a}, params: {seconds: 1.5}}\n");
  auto child = sb.spawn({"run", file.string(), "--no-live"});
  ASSERT_TRUE(wait_for_node(sb, "b", "running"));
  ::kill(child.id(), SIGINT);
  child.wait();
  EXPECT_EQ(child.exit_code(), 130) << slurp(sb.dir() / "bg.err");
  {
    auto reg = sb.registry();
    auto run = reg->list_runs().at(0);
    EXPECT_EQ(run.status, "interrupted");
    auto nodes = nodes_of(*reg, run.id);
    EXPECT_EQ(nodes.at("a").status, "done");
    EXPECT_EQ(nodes.at("b").status, "interrupted");
  }
  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  EXPECT_NE(again.out.find("1 ran, 1 cached"), std::string::npos) << again.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  EXPECT_EQ(attempts_logged(nodes.at("a").log_path), 1u);
  EXPECT_EQ(nodes.at("b").status, "done");
}

TEST(Resume, SigkillOfTheHostLosesNothingAndRecomputesNothingFinished) {
  Sandbox sb;
  auto file = sb.write("kill.yaml",
                       "name: kill\nnodes:\n  a: {plugin: test/metrics, params: {steps: 50}}\n"
                       "  b: {plugin: test/sleep, inputs: {after: a}, params: {seconds: 1.0}}\n"
                       "  c: {plugin: test/sum, inputs: {a: a, b: b}}\n");
  auto child = sb.spawn({"run", file.string(), "--no-live"});
  ASSERT_TRUE(wait_for_node(sb, "b", "running"));
  ::kill(child.id(), SIGKILL);
  child.wait();
  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  auto reg = sb.registry();
  EXPECT_EQ(reg->integrity_check(), "ok");
  auto run = reg->list_runs().at(0);
  EXPECT_EQ(run.status, "done");
  auto nodes = nodes_of(*reg, run.id);
  EXPECT_EQ(attempts_logged(nodes.at("a").log_path), 1u) << "a finished before the kill: not run again";
  EXPECT_EQ(reg->metrics(nodes.at("a").cache_key, {"loss"}).size(), 50u);
  EXPECT_EQ(nodes.at("c").status, "done");
  // No half-written staging directory survives.
  EXPECT_TRUE(fs::is_empty(sb.home() / "store" / "tmp"));
}

// Kill the host at random points of a sweep, over and over, then let it
// finish: the registry must hold exactly what an uninterrupted run holds.
TEST(Resume, RandomKillLoopMatchesAnUninterruptedRun) {
  const std::string yaml =
      "name: loop\nnodes:\n  d: {plugin: test/echo, params: {value: 1}, seed: 1}\n"
      "  m: {plugin: test/metrics, params: {steps: 300, seconds: 0.2}}\n"
      "  s: {plugin: test/sum, inputs: {a: d, b: m}}\n"
      "sweep:\n  grid: {m.scale: [1, 2, 3]}\n  seeds: [1, 2]\n";
  auto snapshot = [](const Sandbox& sb) {
    auto reg = sb.registry();
    std::map<std::string, std::string> out;
    for (const auto& run : reg->list_runs()) {
      out[run.id] = run.status;
      for (const auto& n : reg->node_runs(run.id)) {
        std::string v = n.status == "cached" ? "done" : n.status;
        for (const auto& [k, s] : reg->summaries(n.cache_key)) v += " " + k + "=" + std::to_string(s);
        v += " points=" + std::to_string(reg->metrics(n.cache_key).size());
        out[run.id + "/" + n.node] = v;
      }
    }
    EXPECT_EQ(reg->integrity_check(), "ok");
    return out;
  };

  Sandbox clean;
  auto f0 = clean.write("loop.yaml", yaml);
  ASSERT_EQ(clean.run({"run", f0.string(), "-j", "2"}).code(), 0);
  const auto expected = snapshot(clean);

  Sandbox sb;
  auto f1 = sb.write("loop.yaml", yaml);
  std::mt19937 rng(12345);
  for (int round = 0; round < 6; ++round) {
    auto child = sb.spawn({"run", f1.string(), "-j", "2", "--no-live"});
    // The kill point: a random delay into the run (this chooses *when* to
    // kill, it synchronises nothing).
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    ::kill(child.id(), SIGKILL);
    child.wait();
  }
  auto last = sb.run({"run", f1.string(), "-j", "2"});
  ASSERT_EQ(last.code(), 0) << last.err;
  const auto got = snapshot(sb);
  for (const auto& [k, v] : expected) {
    auto it = got.find(k);
    ASSERT_NE(it, got.end()) << k;
    EXPECT_EQ(it->second, v) << k;
  }
  EXPECT_EQ(got.size(), expected.size());
}

// A full disk while a node writes its artifact (simulated by the exec-node
// hook MSTAR_FAULT_ENOSPC_AFTER): the node fails naming the file and the
// cause, nothing is published half-written, its sibling finishes, and the
// rerun completes with every metric point exactly once.
TEST(Resume, DiskFullFailsTheNodeCleanlyAndTheRerunCompletes) {
  Sandbox sb;
  auto file = sb.write("full.yaml", "name: full\nnodes:\n  m: {plugin: test/metrics, params: {steps: 2000}}\n"
                                    "  e: {plugin: test/echo}\n");
  auto r = sb.run({"run", file.string()}, {{"MSTAR_FAULT_ENOSPC_AFTER", "20000"}});
  EXPECT_EQ(r.code(), 1) << r.err;
  {
    auto reg = sb.registry();
    auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
    EXPECT_EQ(nodes.at("m").status, "failed");
    EXPECT_NE(nodes.at("m").reason.find("metrics.jsonl: No space left on device"), std::string::npos)
        << nodes.at("m").reason;
    EXPECT_EQ(nodes.at("e").status, "done") << "a full disk fails the node that hit it, not its siblings";
    EXPECT_TRUE(nodes.at("m").artifact_path.empty());
    // Nothing of m reached the store: only e's artifact is there.
    size_t manifests = 0;
    for (const auto& entry : fs::recursive_directory_iterator(sb.home() / "store"))
      if (entry.path().filename() == "manifest.json") ++manifests;
    EXPECT_EQ(manifests, 1u);
  }
  // The manifest is the last write: a budget that the metrics fit in but the
  // manifest (several hundred bytes) does not still publishes nothing. The
  // metrics' size comes from a run without the hook (times vary by a few
  // characters a line, hence the margin).
  const std::string small = "name: small\nnodes:\n  m: {plugin: test/metrics, params: {steps: 10}}\n";
  Sandbox measure;
  ASSERT_EQ(measure.run({"run", measure.write("small.yaml", small).string()}).code(), 0);
  uintmax_t metrics_bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(measure.home() / "store"))
    if (entry.path().filename() == "metrics.jsonl") metrics_bytes = fs::file_size(entry.path());
  ASSERT_GT(metrics_bytes, 0u);
  auto r2 = sb.run({"run", sb.write("small.yaml", small).string()},
                   {{"MSTAR_FAULT_ENOSPC_AFTER", std::to_string(metrics_bytes + 100)}});
  EXPECT_EQ(r2.code(), 1) << r2.err;
  {
    auto reg = sb.registry();
    const auto m = nodes_of(*reg, reg->list_runs("small").at(0).id).at("m");
    EXPECT_NE(m.reason.find("manifest.json: No space left on device"), std::string::npos) << m.reason;
  }

  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs("full").at(0).id);
  EXPECT_EQ(nodes.at("m").status, "done");
  EXPECT_EQ(nodes.at("e").status, "cached");
  EXPECT_EQ(reg->metrics(nodes.at("m").cache_key).size(), 2u * 2000) << "loss and acc, each point once";
  EXPECT_EQ(reg->integrity_check(), "ok");
}
