// Experiment loading, overrides, includes and graph validation
// (host/src/config). Sweeps are in sweep_test.cpp.
#include <gtest/gtest.h>

#include <fstream>

#include "config/experiment.h"
#include "mstar/error.h"

namespace fs = std::filesystem;
using namespace mstar;
using namespace mstar::config;

// Shared with sweep_test.cpp (same executable).
namespace cfgtest {

// A fresh directory per test under the system temp dir.
fs::path test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::temp_directory_path() / "mstar_config_test" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const fs::path& dir, const std::string& name, const std::string& text) {
  fs::path p = dir / name;
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
  return p;
}

// Plugins with small schemas, shaped like the real ones.
const std::vector<PluginInfo>& plugins() {
  static const std::vector<PluginInfo> list = [] {
    std::vector<PluginInfo> v;
    PluginInfo world;
    world.kind = "dataset";
    world.name = "implication_world";
    world.version = "1";
    world.params = ParamSchema{ParamSpec::integer("images").def(100).at_least(1),
                               ParamSpec::integer("seed").def(0)};
    world.outputs = {{"train", "dataset", ""}, {"bench", "dataset", ""}};
    v.push_back(world);

    PluginInfo vlm;
    vlm.kind = "backbone";
    vlm.name = "tiny_vlm";
    vlm.version = "1";
    vlm.params = ParamSchema{ParamSpec::enumeration("family", {"qwen", "llama"}).def("qwen"),
                             ParamSpec::enumeration("size", {"S", "M", "L"}).def("S"),
                             ParamSpec::string("device").def("cpu")};
    vlm.outputs = {{"", "backbone", ""}};
    v.push_back(vlm);

    PluginInfo tfq;
    tfq.kind = "reward";
    tfq.name = "tfq";
    tfq.version = "1";
    tfq.params = ParamSchema{ParamSpec::real("format_weight").def(0.5).range(0, 1)};
    v.push_back(tfq);

    PluginInfo grpo;
    grpo.kind = "algorithm";
    grpo.name = "grpo";
    grpo.version = "1";
    grpo.params = ParamSchema{ParamSpec::integer("rollout_n").def(8).range(1, 1024),
                              ParamSpec::real("kl_coef").def(0.01).at_least(0),
                              ParamSpec::real("lr").def(1e-4).range(1e-9, 1),
                              ParamSpec::enumeration("algo", {"grpo", "sft"}).def("grpo"),
                              ParamSpec::list("tags", "int"),
                              ParamSpec::map("extra"),
                              ParamSpec::plugin("reward", "reward").def(Json{{"plugin", "reward/tfq"}})};
    grpo.inputs = {{"model", "backbone", true, ""}, {"data", "dataset", true, ""}};
    grpo.outputs = {{"", "backbone", ""}};
    v.push_back(grpo);

    PluginInfo sft;
    sft.kind = "algorithm";
    sft.name = "sft";
    sft.version = "1";
    sft.params = ParamSchema{ParamSpec::real("lr").def(1e-4), ParamSpec::integer("epochs").def(1)};
    sft.inputs = {{"model", "backbone", true, ""}, {"data", "dataset", true, ""}};
    sft.outputs = {{"", "backbone", ""}};
    v.push_back(sft);

    PluginInfo bench;
    bench.kind = "benchmark";
    bench.name = "tfq_bench";
    bench.version = "1";
    bench.inputs = {{"model", "backbone", true, ""}, {"data", "dataset", true, ""}};
    v.push_back(bench);

    PluginInfo step;  // generic node for graph-shape tests
    step.kind = "test";
    step.name = "step";
    step.version = "1";
    step.inputs = {{"a", "", false, ""}, {"b", "", false, ""}};
    v.push_back(step);
    return v;
  }();
  return list;
}

PluginLookup lookup() { return lookup_in(plugins()); }
std::vector<std::string> ids() { return plugin_ids(plugins()); }

// The message of the BadInput error `fn` throws ("" if none).
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected an Error(BadInput)";
  return "";
}

// The line numbers below are part of the tests: keep this text stable.
const char* kExperiment = R"(name: tfq-grpo-quick
seed: 1
nodes:
  world:  {plugin: dataset/implication_world, params: {images: 200, seed: 1}}
  base:   {plugin: backbone/tiny_vlm, params: {family: qwen, size: S}}
  train:  {plugin: algorithm/grpo, inputs: {model: base, data: world.train},
           params: {rollout_n: 8, kl_coef: 0.01, reward: {plugin: reward/tfq, format_weight: 0.5}},
           resources: {cpus: 2}, timeout: 600, retries: 1}
  eval:   {plugin: benchmark/tfq_bench, inputs: {model: train, data: world.bench}}
)";

}  // namespace cfgtest

using namespace cfgtest;

namespace {

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')) + 1; }

// ------------------------------------------------------------------ loading --

TEST(ConfigLoad, NodesInFileOrderWithFields) {
  auto dir = test_dir();
  Experiment exp = load_experiment(write_file(dir, "exp.yaml", kExperiment));
  EXPECT_EQ(exp.name, "tfq-grpo-quick");
  EXPECT_EQ(exp.seed, 1);
  ASSERT_EQ(exp.nodes.size(), 4u);
  EXPECT_EQ(exp.node_names(), (std::vector<std::string>{"world", "base", "train", "eval"}));
  const NodeSpec& train = exp.nodes[2];
  EXPECT_EQ(train.plugin, "algorithm/grpo");
  EXPECT_EQ(train.cpus, 2);
  EXPECT_DOUBLE_EQ(train.timeout_s, 600);
  EXPECT_EQ(train.retries, 1);
  EXPECT_EQ(train.inputs.at("model"), (InputRef{"base", ""}));
  EXPECT_EQ(train.inputs.at("data"), (InputRef{"world", "train"}));
  EXPECT_EQ(train.params["reward"]["format_weight"], 0.5);
  EXPECT_EQ(train.loc.str(), dir.string() + "/exp.yaml:6:3");
  EXPECT_EQ(train.param_loc("kl_coef").line, 7);
  EXPECT_EQ(train.param_loc("reward.format_weight").line, 7);
  EXPECT_EQ(train.param_loc("reward.nope").str(), train.param_loc("reward").str());
  EXPECT_TRUE(exp.sweep.is_null());
  EXPECT_EQ(exp.raw["nodes"]["base"]["params"]["size"], "S");
  EXPECT_EQ(exp.sources.size(), 1u);
}

TEST(ConfigLoad, NameDefaultsToFileStem) {
  auto dir = test_dir();
  Experiment exp = load_experiment(write_file(dir, "my_exp.yaml", "nodes: {a: {plugin: test/step}}\n"));
  EXPECT_EQ(exp.name, "my_exp");
  EXPECT_EQ(exp.seed, 0);
}

TEST(ConfigLoad, ScalarsResolveLikeYaml12) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  a:
    plugin: test/step
    params: {i: 3, neg: -4, f: 1e-3, f2: .5, b: true, s: S, q: "1", n: ~, hex: 0x10, big: 99999999999999999999, yes: yes, dur: 10m, t: !!str 123, fl: !!float 3}
    timeout: 10m
)");
  Experiment exp = load_experiment(p);
  const Json& params = exp.nodes[0].params;
  EXPECT_TRUE(params["i"].is_number_integer());
  EXPECT_EQ(params["neg"], -4);
  EXPECT_TRUE(params["f"].is_number_float());
  EXPECT_DOUBLE_EQ(params["f"].get<double>(), 1e-3);
  EXPECT_DOUBLE_EQ(params["f2"].get<double>(), 0.5);
  EXPECT_EQ(params["b"], true);
  EXPECT_EQ(params["s"], "S");
  EXPECT_EQ(params["q"], "1");
  EXPECT_FALSE(params.contains("n"));  // null = absent: the default applies
  EXPECT_EQ(params["hex"], 16);
  EXPECT_TRUE(params["big"].is_number_float());
  EXPECT_EQ(params["yes"], "yes");  // YAML 1.2: not a bool
  EXPECT_EQ(params["dur"], "10m");
  EXPECT_EQ(params["t"], "123");
  EXPECT_TRUE(params["fl"].is_number_float());
  EXPECT_DOUBLE_EQ(exp.nodes[0].timeout_s, 600);
}

TEST(ConfigLoad, MergeKeysAndAnchors) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(x-common: &common {plugin: test/step, retries: 2}
nodes:
  a: {<<: *common}
  b: {<<: *common, retries: 5}
)");
  Experiment exp = load_experiment(p);
  EXPECT_EQ(exp.nodes[0].retries, 2);
  EXPECT_EQ(exp.nodes[1].retries, 5);
  EXPECT_EQ(exp.nodes[1].plugin, "test/step");
}

TEST(ConfigLoad, IncludeDeepMergesAndFileWins) {
  auto dir = test_dir();
  write_file(dir, "common/base.yaml", R"(name: base
seed: 5
nodes:
  world: {plugin: dataset/implication_world, params: {images: 200, seed: 1}}
  base:  {plugin: backbone/tiny_vlm, params: {family: qwen, size: S}}
  extra: {plugin: test/step}
sweep: {grid: {base.size: [S, M]}}
)");
  auto p = write_file(dir, "exp.yaml", R"(include: [common/base.yaml]
name: child
nodes:
  base:  {params: {size: M}}
  extra: ~
  eval:  {plugin: test/step, inputs: {a: base}}
sweep: {seeds: [1, 2]}
)");
  Experiment exp = load_experiment(p);
  EXPECT_EQ(exp.name, "child");
  EXPECT_EQ(exp.seed, 5);
  EXPECT_EQ(exp.node_names(), (std::vector<std::string>{"world", "base", "eval"}));
  const NodeSpec* base = exp.find_node("base");
  EXPECT_EQ(base->plugin, "backbone/tiny_vlm");           // from the included file
  EXPECT_EQ(base->params, (Json{{"family", "qwen"}, {"size", "M"}}));
  EXPECT_EQ(base->param_loc("size").str(), p.string() + ":4:20");
  EXPECT_NE(base->param_loc("family").file.find("base.yaml"), std::string::npos);
  // A sweep is replaced as a whole, not merged.
  EXPECT_EQ(exp.sweep, (Json{{"seeds", {1, 2}}}));
  EXPECT_EQ(exp.sources.size(), 2u);
  EXPECT_FALSE(exp.raw.contains("include"));
}

// Nine levels of ten aliases stand for 10^9 values: loading once spun for
// more than 25 s and grew without bound. The expansion is budgeted.
TEST(ConfigLoad, AliasBombIsRefusedNamingTheLine) {
  auto dir = test_dir();
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    const char prev = static_cast<char>(level - 1);
    text += std::string(1, level) + ": &" + level + " [";
    for (int i = 0; i < 10; ++i) text += std::string(i ? ", " : "") + "*" + prev;
    text += "]\n";
  }
  text += "name: *i\nnodes: {x: {plugin: test/step}}\n";
  const std::string msg = error_of([&] { load_experiment(write_file(dir, "bomb.yaml", text)); });
  EXPECT_NE(msg.find("bomb.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expands to more than 200000 values"), std::string::npos) << msg;
  EXPECT_NE(msg.find("alias"), std::string::npos) << msg;

  // Aliases within the budget still work.
  Experiment ok = load_experiment(write_file(dir, "anchors.yaml",
                                             "nodes:\n  w: {plugin: dataset/implication_world, params: &d {images: 20}}\n"
                                             "  v: {plugin: dataset/implication_world, params: *d}\n"));
  EXPECT_EQ(ok.raw["nodes"]["v"]["params"]["images"], 20);
}

TEST(ConfigLoad, OversizedFileIsRefusedBeforeParsing) {
  auto dir = test_dir();
  std::string text = "nodes: {x: {plugin: test/step}}\n";
  const std::string comment = "# " + std::string(1000, 'x') + "\n";
  while (text.size() <= (4u << 20)) text += comment;
  const std::string msg = error_of([&] { load_experiment(write_file(dir, "huge.yaml", text)); });
  EXPECT_NE(msg.find("huge.yaml' is " + std::to_string(text.size()) + " bytes; at most 4194304"),
            std::string::npos)
      << msg.substr(0, 300);
}

TEST(ConfigLoad, IncludeCycleAndMissingFile) {
  auto dir = test_dir();
  write_file(dir, "a.yaml", "include: b.yaml\nnodes: {x: {plugin: test/step}}\n");
  write_file(dir, "b.yaml", "include: a.yaml\n");
  std::string msg = error_of([&] { load_experiment(dir / "a.yaml"); });
  EXPECT_NE(msg.find("include cycle: a.yaml -> b.yaml -> a.yaml"), std::string::npos) << msg;
  EXPECT_NE(msg.find("b.yaml:1:1"), std::string::npos) << msg;

  write_file(dir, "c.yaml", "nodes: {x: {plugin: test/step}}\ninclude: [nope.yaml]\n");
  msg = error_of([&] { load_experiment(dir / "c.yaml"); });
  EXPECT_NE(msg.find("c.yaml:2:11: cannot read experiment file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;

  msg = error_of([&] { load_experiment(dir / "missing.yaml"); });
  EXPECT_NE(msg.find("missing.yaml"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- overrides --

TEST(ConfigOverrides, TypesParsedAsYaml) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", kExperiment);
  Experiment exp = load_experiment(p, {"train.lr=3e-5", "base.size=M", "train.rollout_n=4", "train.tags=[1,2]",
                                       "train.reward={plugin: reward/tfq, format_weight: 0.2}", "seed=7",
                                       "+train.extra.deep=x", "~train.kl_coef", "world.seed='3'"});
  const NodeSpec* train = exp.find_node("train");
  EXPECT_TRUE(train->params["lr"].is_number_float());
  EXPECT_DOUBLE_EQ(train->params["lr"].get<double>(), 3e-5);
  EXPECT_EQ(exp.find_node("base")->params["size"], "M");
  EXPECT_TRUE(train->params["rollout_n"].is_number_integer());
  EXPECT_EQ(train->params["tags"], Json::array({1, 2}));
  EXPECT_EQ(train->params["reward"], (Json{{"plugin", "reward/tfq"}, {"format_weight", 0.2}}));
  EXPECT_EQ(train->params["extra"]["deep"], "x");
  EXPECT_FALSE(train->params.contains("kl_coef"));
  EXPECT_EQ(exp.find_node("world")->params["seed"], "3");
  EXPECT_EQ(exp.seed, 7);
  EXPECT_EQ(train->param_loc("lr").str(), "override 'train.lr=3e-5'");
  EXPECT_EQ(train->param_loc("reward.format_weight").str(),
            "override 'train.reward={plugin: reward/tfq, format_weight: 0.2}'");
  EXPECT_EQ(exp.raw["nodes"]["train"]["params"]["rollout_n"], 4);

  exp = load_experiment(p, {"train.plugin=algorithm/sft"});
  EXPECT_EQ(exp.find_node("train")->plugin, "algorithm/sft");
}

TEST(ConfigOverrides, UnknownNodeAndMalformed) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", kExperiment);
  std::string msg = error_of([&] { load_experiment(p, {"tran.lr=1"}); });
  EXPECT_EQ(msg.rfind("override 'tran.lr=1': unknown node 'tran' (did you mean 'train'?)", 0), 0u) << msg;

  msg = error_of([&] { load_experiment(p, {"train.lr", "train=3", "train.rollout_n.x=1", "sede=1"}); });
  EXPECT_EQ(count_lines(msg), 4u) << msg;
  EXPECT_NE(msg.find("override 'train.lr': expected KEY=VALUE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("override 'train=3': expected NODE.PARAM=VALUE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("override 'train.rollout_n.x=1': 'train.rollout_n' is not a map"), std::string::npos) << msg;
  EXPECT_NE(msg.find("override 'sede=1': unknown key 'sede' (did you mean 'seed'?)"), std::string::npos) << msg;
}

TEST(ConfigOverrides, BadValueReportedAtOverride) {
  auto dir = test_dir();
  Experiment exp = load_experiment(write_file(dir, "exp.yaml", kExperiment), {"train.lr=abc"});
  std::string msg = error_of([&] { resolve_graph(exp, lookup(), ids()); });
  EXPECT_EQ(msg.rfind("override 'train.lr=abc': train.lr: expected float", 0), 0u) << msg;
}

// ------------------------------------------------------------------- errors --

TEST(ConfigErrors, StructureErrorsCollectedWithLocations) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(name: x
nodse: {}
nodes:
  a: {pluign: test/step}
  b: {plugin: test/step, timeout: soon, resources: {cpus: 0, gpu: 1}, retries: -1}
  c.d: {plugin: test/step}
  e: {plugin: nokind, inputs: {a: 3}}
)");
  std::string msg = error_of([&] { load_experiment(p); });
  const std::string f = p.string();
  EXPECT_EQ(msg.rfind(f + ":", 0), 0u) << msg;
  EXPECT_NE(msg.find(f + ":2:1: unknown key 'nodse' in the experiment (did you mean 'nodes'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":4:7: unknown key 'pluign' in node 'a' (did you mean 'plugin'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":4:3: node 'a': missing 'plugin'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":5:26: b.timeout: expected seconds"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":5:53: b.resources.cpus: expected an int >= 1, got 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":5:62: unknown key 'gpu' in b.resources"), std::string::npos) << msg;
  EXPECT_NE(msg.find("b.retries: expected an int >= 0, got -1"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":6:3: node name 'c.d' is not valid"), std::string::npos) << msg;
  EXPECT_NE(msg.find("e.plugin: expected KIND/NAME, got \"nokind\""), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":7:32: e.inputs.a: expected NODE or NODE.OUTPUT, got 3"), std::string::npos) << msg;
  EXPECT_EQ(count_lines(msg), 10u) << msg;
}

// A cluster launcher's keys are checked when the file is read: a typo
// fails before anything is submitted.
TEST(ConfigCluster, ResourcesAndLauncherParsed) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(name: x
launcher: {kind: slurm, partition: cpu, poll: 2s, sbatch_args: [--exclusive]}
nodes:
  a: {plugin: test/step, resources: {cpus: 4, gpus: 1, mem: 16G, partition: gpu, qos: high, sbatch_args: [--constraint=a100]}}
  b: {plugin: test/step, resources: {mem: 500}}
)");
  Experiment exp = load_experiment(p);
  EXPECT_EQ(exp.launcher.kind, "slurm");
  EXPECT_DOUBLE_EQ(exp.launcher.poll_s, 2.0);
  const ClusterResources a = exp.launcher.defaults.merged(exp.find_node("a")->cluster);
  EXPECT_EQ(a.mem, "16G");
  EXPECT_EQ(a.partition, "gpu");  // the node's own wins over the launcher's
  EXPECT_EQ(a.qos, "high");
  EXPECT_EQ(a.sbatch_args, (std::vector<std::string>{"--exclusive", "--constraint=a100"}));
  const ClusterResources b = exp.launcher.defaults.merged(exp.find_node("b")->cluster);
  EXPECT_EQ(b.mem, "500");
  EXPECT_EQ(b.partition, "cpu");
}

TEST(ConfigCluster, BadClusterKeysNamed) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(name: x
launcher: {kind: slurmm, polll: 1}
nodes:
  a: {plugin: test/step, resources: {mem: lots, partition: "a b", sbatch_args: --exclusive}}
)");
  std::string msg = error_of([&] { load_experiment(p); });
  const std::string f = p.string();
  EXPECT_NE(msg.find(f + ":2:12: launcher.kind: expected local or slurm, got \"slurmm\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("a.resources.mem: expected megabytes (16000) or a size with K/M/G/T (16G), got \"lots\""),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("a.resources.partition: expected a name without spaces"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a.resources.sbatch_args: expected a list of sbatch options"), std::string::npos) << msg;
  auto q = write_file(dir, "exp2.yaml", "launcher: {kind: slurm, polll: 1}\nnodes:\n  a: {plugin: test/step}\n");
  msg = error_of([&] { load_experiment(q); });
  EXPECT_NE(msg.find(q.string() + ":1:25: unknown key 'polll' in launcher (did you mean 'poll'?)"), std::string::npos)
      << msg;
}

TEST(ConfigErrors, YamlSyntaxAndDuplicateKeys) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", "nodes:\n  a: {plugin: test/step\n");
  std::string msg = error_of([&] { load_experiment(p); });
  EXPECT_EQ(msg.rfind(p.string() + ":", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;

  p = write_file(dir, "dup.yaml", "nodes:\n  a: {plugin: test/step}\n  a: {plugin: test/step}\n");
  msg = error_of([&] { load_experiment(p); });
  EXPECT_EQ(msg, p.string() + ":3:3: duplicate key 'a'");

  p = write_file(dir, "nonodes.yaml", "name: x\n");
  msg = error_of([&] { load_experiment(p); });
  EXPECT_NE(msg.find(p.string() + ":1:1: missing 'nodes'"), std::string::npos) << msg;
}

// -------------------------------------------------------------------- graph --

TEST(ConfigGraph, ResolvesParamsAndOrdersTopologically) {
  auto dir = test_dir();
  // eval is written first: the order comes from the wiring.
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  eval:  {plugin: benchmark/tfq_bench, inputs: {model: train, data: world.bench}}
  train: {plugin: algorithm/grpo, inputs: {model: base, data: world.train}, params: {kl_coef: 0}}
  world: {plugin: dataset/implication_world}
  base:  {plugin: backbone/tiny_vlm}
)");
  ResolvedGraph g = resolve_graph(load_experiment(p), lookup(), ids());
  std::vector<std::string> order;
  for (const auto& n : g.nodes) order.push_back(n.name);
  EXPECT_EQ(order, (std::vector<std::string>{"world", "base", "train", "eval"}));
  ASSERT_EQ(g.plugins.size(), 4u);
  EXPECT_EQ(g.plugins[2]->id(), "algorithm/grpo");
  const Json& params = g.find("train")->params;
  EXPECT_TRUE(params["kl_coef"].is_number_float());  // 0 given for a float param
  EXPECT_EQ(params["rollout_n"], 8);
  EXPECT_EQ(params["reward"], (Json{{"plugin", "reward/tfq"}, {"format_weight", 0.5}}));
  EXPECT_EQ(g.find("base")->params, (Json{{"family", "qwen"}, {"size", "S"}, {"device", "cpu"}}));
}

// A GPU is asked for with the node (resources.gpus), and a `device` param
// must stay within what the node asked for: checked before anything runs,
// since the host has no GPU of its own to ask.
TEST(ConfigGraph, DeviceNeedsTheGpusTheNodeAsksFor) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  a: {plugin: backbone/tiny_vlm, params: {device: cuda}}
  b: {plugin: backbone/tiny_vlm, params: {device: "cuda:1"}, resources: {gpus: 1}}
  c: {plugin: backbone/tiny_vlm, params: {device: gpu}}
  d: {plugin: backbone/tiny_vlm, params: {device: "cuda:1"}, resources: {gpus: 2}}
  e: {plugin: backbone/tiny_vlm, params: {device: auto}}
  f: {plugin: backbone/tiny_vlm, resources: {gpus: -1}}
)");
  std::string msg = error_of([&] { resolve_graph(load_experiment(p), lookup(), ids()); });
  const std::string f = p.string();
  EXPECT_NE(msg.find(f + ":7:46: f.resources.gpus: expected an int from 0 to 64, got -1"), std::string::npos) << msg;
  auto q = write_file(dir, "exp2.yaml", R"(nodes:
  a: {plugin: backbone/tiny_vlm, params: {device: cuda}}
  b: {plugin: backbone/tiny_vlm, params: {device: "cuda:1"}, resources: {gpus: 1}}
  c: {plugin: backbone/tiny_vlm, params: {device: gpu}}
  d: {plugin: backbone/tiny_vlm, params: {device: "cuda:1"}, resources: {gpus: 2}}
  e: {plugin: backbone/tiny_vlm, params: {device: auto}}
)");
  msg = error_of([&] { resolve_graph(load_experiment(q), lookup(), ids()); });
  const std::string g = q.string();
  EXPECT_NE(msg.find(g + ":2:43: a.device: \"cuda\" needs a GPU, and the node asks for none: add resources: {gpus: 1}"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find(g + ":3:43: b.device: \"cuda:1\" is GPU 1 of the node's own, and it asks for 1"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(g + ":4:43: c.device: expected cpu, cuda, cuda:N or auto, got \"gpu\""), std::string::npos) << msg;
  EXPECT_EQ(count_lines(msg), 3u) << msg;  // d (within its 2 GPUs) and e (auto) are fine
}

TEST(ConfigGraph, ParamErrorsTogetherWithDidYouMean) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  world: {plugin: dataset/implication_world, params: {images: 0}}
  base:  {plugin: backbone/tiny_vlm, params: {size: XL}}
  train:
    plugin: algorithm/grpo
    inputs: {model: base, data: world.train}
    params:
      rollot_n: 8
      kl_coef: high
      reward: {plugin: reward/tfq, format_wieght: 0.5}
)");
  std::string msg = error_of([&] { resolve_graph(load_experiment(p), lookup(), ids()); });
  const std::string f = p.string();
  EXPECT_EQ(count_lines(msg), 5u) << msg;
  EXPECT_NE(msg.find(f + ":2:55: world.images: expected int >= 1, got 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":3:47: base.size: expected one of {S, M, L}, got \"XL\""), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":8:7: train.rollot_n: unknown param (did you mean 'rollout_n'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":9:7: train.kl_coef: expected float >= 0, got \"high\""), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":10:36: train.reward.format_wieght: unknown param (did you mean 'format_weight'?)"),
            std::string::npos) << msg;
}

TEST(ConfigGraph, UnknownPluginWithDidYouMean) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", "nodes:\n  base: {plugin: backbone/tiny_vml}\n  w: {plugin: data/implication_world}\n");
  std::string msg = error_of([&] { resolve_graph(load_experiment(p), lookup(), ids()); });
  EXPECT_NE(msg.find(p.string() + ":2:10: base.plugin: unknown plugin 'backbone/tiny_vml' (did you mean 'backbone/tiny_vlm'?)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown plugin 'data/implication_world' (did you mean 'dataset/implication_world'?)"),
            std::string::npos) << msg;
}

TEST(ConfigGraph, WiringErrors) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  world: {plugin: dataset/implication_world}
  base:  {plugin: backbone/tiny_vlm}
  train: {plugin: algorithm/grpo, inputs: {model: world.train, data: world.trian, modle: base}}
  eval:  {plugin: benchmark/tfq_bench, inputs: {model: trian}}
)");
  std::string msg = error_of([&] { resolve_graph(load_experiment(p), lookup(), ids()); });
  const std::string f = p.string();
  EXPECT_NE(msg.find(f + ":4:44: train.inputs.model: expects a 'backbone' artifact, but 'world.train' "
                         "(dataset/implication_world) produces 'dataset'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":4:64: train.inputs.data: node 'world' (dataset/implication_world) has no output 'trian' "
                         "(did you mean 'train'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":4:83: train.inputs.modle: algorithm/grpo has no input 'modle' (did you mean 'model'?)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find(f + ":5:49: eval.inputs.model: unknown node 'trian' (did you mean 'train'?)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(f + ":5:3: eval: missing required input 'data'"), std::string::npos) << msg;
  EXPECT_EQ(count_lines(msg), 5u) << msg;
}

TEST(ConfigGraph, CycleIsPrinted) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", R"(nodes:
  a: {plugin: test/step, inputs: {a: c}}
  b: {plugin: test/step, inputs: {a: a}}
  c: {plugin: test/step, inputs: {a: b}}
  d: {plugin: test/step, inputs: {a: d}}
  e: {plugin: test/step, inputs: {a: a}}
)");
  std::string msg = error_of([&] { resolve_graph(load_experiment(p), lookup(), ids()); });
  EXPECT_NE(msg.find(p.string() + ":2:3: dependency cycle: a -> b -> c -> a"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p.string() + ":5:3: dependency cycle: d -> d"), std::string::npos) << msg;
  EXPECT_EQ(count_lines(msg), 2u) << msg;
}

TEST(ConfigGraph, NodeSeedAndNoPluginLookup) {
  auto dir = test_dir();
  auto p = write_file(dir, "exp.yaml", "nodes:\n  a: {plugin: test/step, seed: 42}\n  b: {plugin: test/step}\n");
  Experiment exp = load_experiment(p);
  EXPECT_EQ(exp.nodes[0].effective_seed(7), 42);
  EXPECT_EQ(exp.nodes[1].effective_seed(7), 7);
  std::string msg = error_of([&] { resolve_graph(exp, nullptr); });
  EXPECT_NE(msg.find("unknown plugin 'test/step'"), std::string::npos) << msg;
}

}  // namespace
