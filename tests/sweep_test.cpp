// Sweep expansion, narrowing, key validation and trial application
// (host/src/config/sweep*.cpp, over the parsed form of sweep_ast.h).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "config/experiment.h"
#include "config/sweep_ast.h"
#include "mstar/error.h"

namespace fs = std::filesystem;
using namespace mstar;
using namespace mstar::config;

namespace cfgtest {  // defined in config_test.cpp
fs::path test_dir();
fs::path write_file(const fs::path& dir, const std::string& name, const std::string& text);
const std::vector<PluginInfo>& plugins();
PluginLookup lookup();
std::vector<std::string> ids();
std::string error_of(const std::function<void()>& fn);
}  // namespace cfgtest

using namespace cfgtest;

namespace {

const char* kNodes = R"(name: ablation
seed: 1
nodes:
  world: {plugin: dataset/implication_world}
  base:  {plugin: backbone/tiny_vlm, params: {size: S}}
  train: {plugin: algorithm/grpo, inputs: {model: base, data: world.train}, params: {kl_coef: 0.01, algo: grpo}}
  eval:  {plugin: benchmark/tfq_bench, inputs: {model: train, data: world.bench}}
)";  // 7 lines: the sweep starts on line 8

Experiment load_sweep(const std::string& sweep, const std::vector<std::string>& overrides = {}) {
  auto dir = test_dir();
  return load_experiment(write_file(dir, "exp.yaml", std::string(kNodes) + sweep), overrides);
}

std::vector<std::string> labels(const std::vector<Trial>& trials) {
  std::vector<std::string> out;
  for (const auto& t : trials) out.push_back(trial_label(t));
  return out;
}

TEST(Sweep, NoSweepIsOneTrial) {
  Experiment exp = load_sweep("");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].assignment, (Json{{"seed", 1}}));
  EXPECT_EQ(trials[0].seed, 1);
  EXPECT_EQ(trial_label(trials[0]), "seed=1");
}

TEST(Sweep, GridIsCartesianLastKeyFastest) {
  Experiment exp = load_sweep("sweep:\n  grid: {base.size: [S, M, L], train.kl_coef: [0, 0.01]}\n");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(labels(trials), (std::vector<std::string>{
                                "base.size=S train.kl_coef=0 seed=1", "base.size=S train.kl_coef=0.01 seed=1",
                                "base.size=M train.kl_coef=0 seed=1", "base.size=M train.kl_coef=0.01 seed=1",
                                "base.size=L train.kl_coef=0 seed=1", "base.size=L train.kl_coef=0.01 seed=1"}));
  EXPECT_EQ(trials[1].assignment, (Json{{"base.size", "S"}, {"train.kl_coef", 0.01}, {"seed", 1}}));
}

TEST(Sweep, ZipVariesTogetherAndMultipliesWithGrid) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {train.kl_coef: [0, 0.01]}
  zip:  {base.size: [S, M], train.lr: [1e-3, 3e-4]}
)");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_EQ(trial_label(trials[0]), "base.size=S train.kl_coef=0 train.lr=0.001 seed=1");
  EXPECT_EQ(trial_label(trials[1]), "base.size=M train.kl_coef=0 train.lr=0.0003 seed=1");

  // Several zip groups are several factors.
  exp = load_sweep(R"(sweep:
  zip: [{base.size: [S, M], train.lr: [1e-3, 3e-4]}, {train.kl_coef: [0, 1, 2], train.rollout_n: [2, 4, 8]}]
)");
  EXPECT_EQ(expand_sweep(exp).size(), 6u);
}

TEST(Sweep, ZipUnequalLengthsNameBothKeys) {
  std::string msg = error_of([] {
    load_sweep("sweep:\n  zip: {base.size: [S, M, L], train.lr: [1e-3, 3e-4]}\n");
  });
  EXPECT_NE(msg.find("exp.yaml:9:3: zip: 'base.size' has 3 values but 'train.lr' has 2"), std::string::npos) << msg;
}

TEST(Sweep, PointsAreExplicitAssignments) {
  Experiment exp = load_sweep(R"(sweep:
  points: [{}, {base.size: M, train.lr: 1e-3}, {base.size: L}]
  grid: {train.kl_coef: [0, 0.1]}
)");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(trial_label(trials[0]), "train.kl_coef=0 seed=1");
  EXPECT_EQ(trial_label(trials[1]), "base.size=M train.kl_coef=0 train.lr=0.001 seed=1");
  EXPECT_EQ(trial_label(trials[5]), "base.size=L train.kl_coef=0.1 seed=1");
}

TEST(Sweep, RandomIsDeterministicAndInRange) {
  const std::string sweep = R"(sweep:
  random:
    n: 8
    seed: 3
    params:
      train.lr: {loguniform: [1e-5, 1e-2]}
      train.kl_coef: {uniform: [0, 0.1]}
      base.size: {choice: [S, M]}
      train.rollout_n: {int: [2, 16]}
)";
  auto a = expand_sweep(load_sweep(sweep));
  auto b = expand_sweep(load_sweep(sweep));
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(labels(a), labels(b));
  std::set<std::string> distinct;
  for (const auto& t : a) {
    const Json& x = t.assignment;
    EXPECT_GE(x["train.lr"].get<double>(), 1e-5);
    EXPECT_LE(x["train.lr"].get<double>(), 1e-2);
    EXPECT_GE(x["train.kl_coef"].get<double>(), 0);
    EXPECT_LT(x["train.kl_coef"].get<double>(), 0.1);
    EXPECT_TRUE(x["base.size"] == "S" || x["base.size"] == "M");
    EXPECT_TRUE(x["train.rollout_n"].is_number_integer());
    EXPECT_GE(x["train.rollout_n"].get<int64_t>(), 2);
    EXPECT_LE(x["train.rollout_n"].get<int64_t>(), 16);
    distinct.insert(trial_label(t));
  }
  EXPECT_EQ(distinct.size(), 8u);

  // The documented mapping: mt19937_64(seed); per sample, keys in sorted
  // order; u = (draw >> 11) * 2^-53; choice/int by rejection sampling.
  std::mt19937_64 gen(3);
  auto unit = [&] { return static_cast<double>(gen() >> 11) * 0x1.0p-53; };
  auto below = [&](uint64_t range) {
    const uint64_t threshold = (0 - range) % range;
    while (true) {
      uint64_t x = gen();
      if (x >= threshold) return x % range;
    }
  };
  const std::string size = below(2) == 0 ? "S" : "M";
  const double kl = 0 + unit() * 0.1;
  const double lr = std::exp(std::log(1e-5) + unit() * (std::log(1e-2) - std::log(1e-5)));
  const int64_t rollout = 2 + static_cast<int64_t>(below(15));
  EXPECT_EQ(a[0].assignment["base.size"], size);
  EXPECT_DOUBLE_EQ(a[0].assignment["train.kl_coef"].get<double>(), kl);
  EXPECT_DOUBLE_EQ(a[0].assignment["train.lr"].get<double>(), lr);
  EXPECT_EQ(a[0].assignment["train.rollout_n"], rollout);

  // Another seed, other samples.
  std::string other = sweep;
  other.replace(other.find("seed: 3"), 7, "seed: 4");
  EXPECT_NE(labels(expand_sweep(load_sweep(other))), labels(a));
}

TEST(Sweep, RandomErrors) {
  std::string msg = error_of([] {
    load_sweep(R"(sweep:
  random: {n: 0, params: {train.lr: {loguniform: [0, 1]}, train.kl_coef: {normal: [0, 1]}, base.size: {int: [3, 1]}}}
)");
  });
  EXPECT_NE(msg.find("random.n: expected the number of samples"), std::string::npos) << msg;
  EXPECT_NE(msg.find("random.params.train.lr.loguniform: bounds must be > 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown distribution 'normal'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("random.params.base.size.int: LO must not exceed HI"), std::string::npos) << msg;
}

TEST(Sweep, SeedsReplicateSeedMajor) {
  Experiment exp = load_sweep("sweep:\n  grid: {base.size: [S, M]}\n  seeds: [1, 2, 3]\n");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(labels(trials), (std::vector<std::string>{"base.size=S seed=1", "base.size=M seed=1", "base.size=S seed=2",
                                                      "base.size=M seed=2", "base.size=S seed=3", "base.size=M seed=3"}));
  EXPECT_EQ(trials[5].seed, 3);
  EXPECT_EQ(trials[5].assignment["seed"], 3);

  std::string msg = error_of([] { load_sweep("sweep:\n  seeds: [1, 1]\n  union: [{seeds: [2]}]\n"); });
  EXPECT_NE(msg.find("seeds: duplicate seed 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("seeds: only allowed at the top of the sweep"), std::string::npos) << msg;
}

TEST(Sweep, UnionConcatenatesAndIsAFactor) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {base.size: [S, M]}
  union:
    - {grid: {train.algo: [sft]}}
    - {grid: {train.algo: [grpo], train.kl_coef: [0, 0.01]}}
)");
  auto trials = expand_sweep(exp);
  EXPECT_EQ(labels(trials), (std::vector<std::string>{
                                "base.size=S train.algo=sft seed=1", "base.size=S train.algo=grpo train.kl_coef=0 seed=1",
                                "base.size=S train.algo=grpo train.kl_coef=0.01 seed=1", "base.size=M train.algo=sft seed=1",
                                "base.size=M train.algo=grpo train.kl_coef=0 seed=1",
                                "base.size=M train.algo=grpo train.kl_coef=0.01 seed=1"}));
}

TEST(Sweep, ExcludeDropsMatches) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {base.size: [S, M, L], train.kl_coef: [0, 0.01]}
  exclude: [{base.size: L, train.kl_coef: 0.0}, {base.size: M, train.algo: grpo}]
)");
  // The second entry matches through the base value of train.algo.
  EXPECT_EQ(labels(expand_sweep(exp)), (std::vector<std::string>{"base.size=S train.kl_coef=0 seed=1",
                                                                 "base.size=S train.kl_coef=0.01 seed=1",
                                                                 "base.size=L train.kl_coef=0.01 seed=1"}));
  std::string msg = error_of([] {
    expand_sweep(load_sweep("sweep:\n  grid: {base.size: [S]}\n  exclude: [{base.size: S}]\n"));
  });
  EXPECT_NE(msg.find("exp.yaml:8:1: sweep: expands to no trials"), std::string::npos) << msg;
}

TEST(Sweep, WhenUnsetsKeysAndDedupes) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {train.algo: [sft, grpo], train.kl_coef: [0, 0.01], base.size: [S, M]}
  when:
    - {if: {train.algo: sft}, unset: [train.kl_coef]}
    - {if: {base.size: M}, set: {train.rollout_n: 16}}
)");
  auto trials = expand_sweep(exp);
  // Per size: 1 sft (kl not swept) + 2 grpo = 6 trials instead of 8.
  EXPECT_EQ(labels(trials),
            (std::vector<std::string>{"base.size=S train.algo=sft seed=1",
                                      "base.size=S train.algo=grpo train.kl_coef=0 seed=1",
                                      "base.size=S train.algo=grpo train.kl_coef=0.01 seed=1",
                                      "base.size=M train.algo=sft train.rollout_n=16 seed=1",
                                      "base.size=M train.algo=grpo train.kl_coef=0 train.rollout_n=16 seed=1",
                                      "base.size=M train.algo=grpo train.kl_coef=0.01 train.rollout_n=16 seed=1"}));
  std::set<std::string> distinct;
  for (const auto& t : trials) distinct.insert(t.assignment.dump());
  EXPECT_EQ(distinct.size(), trials.size());
}

TEST(Sweep, IdenticalAssignmentsCollapse) {
  Experiment exp = load_sweep(R"(sweep:
  points: [{train.kl_coef: 0}, {train.kl_coef: 0.0}, {base.size: M}, {base.size: M}]
)");
  EXPECT_EQ(labels(expand_sweep(exp)), (std::vector<std::string>{"train.kl_coef=0 seed=1", "base.size=M seed=1"}));

  // Setting a key to its base value (base.size is S in the file) is the base config.
  exp = load_sweep("sweep:\n  points: [{}, {base.size: S}, {base.size: M}, {train.lr: null}]\n");
  EXPECT_EQ(labels(expand_sweep(exp)), (std::vector<std::string>{"seed=1", "base.size=M seed=1"}));
}

TEST(Sweep, KeyErrorsHaveLocationsAndHints) {
  std::string msg = error_of([] {
    load_sweep(R"(sweep:
  grid: {bsae.size: [S, M], seed: [1, 2], train: [1]}
  points: [{base.size: M}]
  grdi: {}
)");
  });
  EXPECT_NE(msg.find("exp.yaml:9:10: sweep key 'bsae.size': unknown node 'bsae' (did you mean 'base'?)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("exp.yaml:9:29: sweep key 'seed': the trial seed is not swept"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sweep key 'train': expected NODE.PARAM"), std::string::npos) << msg;
  EXPECT_NE(msg.find("exp.yaml:11:3: sweep: unknown key 'grdi' (did you mean 'grid'?)"), std::string::npos) << msg;

  msg = error_of([] { load_sweep("sweep:\n  grid: {base.size: [S]}\n  points: [{base.size: M}]\n"); });
  EXPECT_NE(msg.find("sweep key 'base.size' is set by both grid and points"), std::string::npos) << msg;

  msg = error_of([] { load_sweep("sweep:\n  grid: {base.size: S}\n"); });
  EXPECT_NE(msg.find("exp.yaml:9:10: grid.base.size: expected a non-empty list of values, got \"S\""),
            std::string::npos) << msg;
}

TEST(Sweep, ValidateKeysAgainstSchemas) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {train.lr: [1e-3], train.reward.format_weight: [0.1], base.size: [S]}
  union:
    - {grid: {train.plugin: [algorithm/sft], train.epochs: [1, 2]}}
    - {grid: {train.rollout_n: [4]}}
)");
  EXPECT_NO_THROW(validate_sweep_keys(exp, lookup(), ids()));

  exp = load_sweep(R"(sweep:
  grid: {train.lrr: [1e-3], train.reward.format_wieght: [0.1], base.size.x: [S], train.plugin: [algorithm/gpro]}
)");
  std::string msg = error_of([&] { validate_sweep_keys(exp, lookup(), ids()); });
  EXPECT_NE(msg.find("exp.yaml:9:10: sweep key 'train.lrr': algorithm/grpo has no param 'lrr' (did you mean 'lr'?)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("sweep key 'train.reward.format_wieght': reward/tfq has no param 'format_wieght' "
                     "(did you mean 'format_weight'?)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sweep key 'base.size.x': param 'size' is a enum, it has no field 'x'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sweep key 'train.plugin': unknown plugin 'algorithm/gpro' (did you mean 'algorithm/grpo'?)"),
            std::string::npos) << msg;
}

TEST(Sweep, NarrowGridZipSeedsAndErrors) {
  Experiment exp = load_sweep(R"(sweep:
  grid: {base.size: [S, M, L]}
  zip: {train.lr: [1e-3, 3e-4, 1e-4], train.rollout_n: [2, 4, 8]}
  seeds: [1, 2, 3]
)");
  narrow_sweep(exp, {"base.size=S,XL", "seeds=5", "train.lr=3e-4"});
  auto trials = expand_sweep(exp);
  EXPECT_EQ(labels(trials), (std::vector<std::string>{"base.size=S train.lr=0.0003 train.rollout_n=4 seed=5",
                                                      "base.size=XL train.lr=0.0003 train.rollout_n=4 seed=5"}));
  EXPECT_EQ(exp.raw["sweep"], exp.sweep);

  const Json before = exp.sweep;
  std::string msg = error_of([&] { narrow_sweep(exp, {"seeds=9", "base.sise=S", "base.size"}); });
  EXPECT_EQ(exp.sweep, before);  // nothing applied
  EXPECT_NE(msg.find("--set-sweep 'base.sise=S': 'base.sise' is not a sweep axis (did you mean 'base.size'?)"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("--set-sweep 'base.size': expected KEY=V1,V2"), std::string::npos) << msg;

  // Seeds can be given to an experiment without a sweep.
  Experiment plain = load_sweep("");
  narrow_sweep(plain, {"seed=4,5"});
  EXPECT_EQ(labels(expand_sweep(plain)), (std::vector<std::string>{"seed=4", "seed=5"}));

  // A bad replaced value is reported at the --set-sweep argument.
  Experiment bad = load_sweep("sweep:\n  grid: {base.size: [S]}\n");
  narrow_sweep(bad, {"base.size=XL"});
  msg = error_of([&] { resolve_trials(bad, expand_sweep(bad), lookup(), ids()); });
  EXPECT_EQ(msg.rfind("--set-sweep 'base.size=XL': base.size: expected one of {S, M, L}", 0), 0u) << msg;
}

TEST(Sweep, NarrowAcrossUnionSelects) {
  Experiment exp = load_sweep(R"(sweep:
  union:
    - {grid: {train.algo: [sft]}}
    - {grid: {train.algo: [grpo], train.kl_coef: [0, 0.01]}}
)");
  Experiment sft = exp;
  narrow_sweep(sft, {"train.algo=sft"});
  EXPECT_EQ(labels(expand_sweep(sft)), (std::vector<std::string>{"train.algo=sft seed=1"}));
  std::string msg = error_of([&] { narrow_sweep(exp, {"train.algo=dpo"}); });
  EXPECT_NE(msg.find("'train.algo' takes no value dpo in this sweep"), std::string::npos) << msg;
}

TEST(Sweep, ApplyAssignmentSetsParamsPluginAndSeed) {
  Experiment exp = load_sweep(R"(sweep:
  points:
    - {train.plugin: algorithm/sft, train.kl_coef: null, train.algo: null, train.epochs: 3}
    - {train.reward.format_weight: 2.0}
  seeds: [4]
)");
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 2u);
  Experiment t0 = apply_assignment(exp, trials[0]);
  const NodeSpec* train = t0.find_node("train");
  EXPECT_EQ(train->plugin, "algorithm/sft");
  EXPECT_EQ(train->params, (Json{{"epochs", 3}}));
  EXPECT_EQ(t0.seed, 4);
  EXPECT_EQ(t0.raw["seed"], 4);
  EXPECT_EQ(t0.raw["nodes"]["train"]["plugin"], "algorithm/sft");
  ResolvedGraph g = resolve_graph(t0, lookup(), ids());
  EXPECT_EQ(g.find("train")->params["lr"], 1e-4);
  EXPECT_EQ(trial_label(trials[0]),
            "train.algo=null train.epochs=3 train.kl_coef=null train.plugin=algorithm/sft seed=4");

  // Out of range: reported where the sweep sets the key.
  Experiment t1 = apply_assignment(exp, trials[1]);
  EXPECT_EQ(t1.find_node("train")->params["reward"]["format_weight"], 2.0);
  std::string msg = error_of([&] { resolve_graph(t1, lookup(), ids()); });
  EXPECT_NE(msg.find("exp.yaml:11:8: train.reward.format_weight: expected float in [0, 1]"), std::string::npos) << msg;
}

TEST(Sweep, LimitsAndResolveTrials) {
  Experiment exp = load_sweep("sweep:\n  grid: {base.size: [S, M, L]}\n  seeds: [1, 2]\n");
  std::string msg = error_of([&] { expand_sweep(exp, 5); });
  EXPECT_NE(msg.find("expands to 6 trials (3 assignments x 2 seeds), more than the limit of 5"), std::string::npos)
      << msg;
  auto graphs = resolve_trials(exp, expand_sweep(exp), lookup(), ids());
  ASSERT_EQ(graphs.size(), 6u);
  EXPECT_EQ(graphs[2].find("base")->params["size"], "L");
}

// The worked example of docs/sweeps.md.
TEST(Sweep, DocsAblationSizeByStrategyBySeeds) {
  auto dir = test_dir();
  auto p = write_file(dir, "size-x-strategy.yaml", R"(name: size-x-strategy
nodes:
  world: {plugin: dataset/implication_world, params: {images: 2000}, seed: 0}
  base:  {plugin: backbone/tiny_vlm, params: {family: qwen, size: S}, seed: 0}
  train: {plugin: algorithm/grpo, inputs: {model: base, data: world.train},
          params: {lr: 1e-4, rollout_n: 8}}
  eval:  {plugin: benchmark/tfq_bench, inputs: {model: train, data: world.bench}}
sweep:
  grid: {base.size: [S, M, L]}                      # factor 1: model size
  union:                                            # factor 2: training strategy
    - {points: [{train.plugin: algorithm/sft, train.rollout_n: null, train.epochs: 3}]}   # SFT only
    - {points: [{train.kl_coef: 0}]}                                                       # GRPO, no KL
    - {points: [{train.kl_coef: 0.01}]}                                                    # GRPO + KL
  seeds: [1, 2, 3]                                  # replicates, not a factor
)");
  Experiment exp = load_experiment(p);
  validate_sweep_keys(exp, lookup(), ids());
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 27u);
  EXPECT_EQ(trial_label(trials[0]),
            "base.size=S train.epochs=3 train.plugin=algorithm/sft train.rollout_n=null seed=1");
  EXPECT_EQ(trial_label(trials[1]), "base.size=S train.kl_coef=0 seed=1");
  EXPECT_EQ(trial_label(trials[3]).substr(0, 11), "base.size=M");
  EXPECT_EQ(trial_label(trials[26]), "base.size=L train.kl_coef=0.01 seed=3");
  auto graphs = resolve_trials(exp, trials, lookup(), ids());
  ASSERT_EQ(graphs.size(), 27u);
  // Distinct node instances: (plugin, resolved params, seed, inputs' identity).
  std::set<std::string> instances;
  for (size_t i = 0; i < graphs.size(); ++i) {
    std::map<std::string, std::string> key;
    for (const auto& n : graphs[i].nodes) {
      std::string k = n.plugin + n.params.dump() + std::to_string(n.effective_seed(trials[i].seed));
      for (const auto& [in, ref] : n.inputs) k += in + "=" + key[ref.node] + "." + ref.output;
      key[n.name] = k;
      instances.insert(k);
    }
  }
  EXPECT_EQ(instances.size(), 1u + 3u + 27u + 27u);
}

TEST(Sweep, OverrideOfSweptKeyKeepsSweepValues) {
  Experiment exp = load_sweep("sweep:\n  grid: {base.size: [S, M]}\n", {"base.size=L", "train.lr=0.5"});
  auto trials = expand_sweep(exp);
  ASSERT_EQ(trials.size(), 2u);
  Experiment t = apply_assignment(exp, trials[1]);
  EXPECT_EQ(t.find_node("base")->params["size"], "M");
  EXPECT_EQ(t.find_node("train")->params["lr"], 0.5);
}

// Every construct once, nested: the parsed form's own operations must see
// them all.
const char* kEveryConstruct = R"(sweep:
  grid: {base.size: [S, M]}
  zip: [{train.lr: [1e-3, 3e-4], train.rollout_n: [2, 4]}]
  union:
    - points: [{}, {train.kl_coef: 0.5}]
      exclude: []
    - random: {n: 2, seed: 5, params: {train.algo: {choice: [a, b]}, train.kl_coef: {uniform: [0, 1]}}}
      when: [{if: {train.algo: a}, set: {train.epochs: 3}, unset: train.rollout_n}]
    - union: [{zip: {base.family: [q, f], eval.limit: [1, 2]}}]
  seeds: [1, 2]
)";

// --set-sweep edits the parsed sweep and renders it back: what it does not
// touch must come back as written.
TEST(SweepAst, RenderGivesBackTheParsedJson) {
  Experiment exp = load_sweep(kEveryConstruct);
  EXPECT_EQ(sweeps::render(sweeps::parse_checked(exp.sweep)), exp.sweep);

  const Json before = exp.sweep;
  narrow_sweep(exp, {"seeds=7", "eval.limit=2"});
  Json expected = before;
  expected["seeds"] = {7};
  expected["union"][2]["union"][0]["zip"] = {{"base.family", {"f"}}, {"eval.limit", {2}}};
  EXPECT_EQ(exp.sweep, expected);
}

TEST(SweepAst, OneTraversalFindsTheKeysOfEveryConstruct) {
  Experiment exp = load_sweep(kEveryConstruct);
  const sweeps::Sweep s = sweeps::parse_checked(exp.sweep);
  const std::set<std::string> varied = {"base.family", "base.size", "eval.limit", "train.algo",
                                        "train.kl_coef", "train.lr", "train.rollout_n"};
  EXPECT_EQ(sweeps::block_keys(s.root, false), varied);
  std::set<std::string> with_sets = varied;
  with_sets.insert("train.epochs");  // set by a `when` rule only
  EXPECT_EQ(sweeps::block_keys(s.root, true), with_sets);
  EXPECT_EQ(config::detail::sweep_keys(exp.sweep), std::vector<std::string>(varied.begin(), varied.end()));

  // Children first, each block with its JSON pointer.
  std::vector<std::string> visited;
  sweeps::for_each_block(s.root, "/sweep", [&](const sweeps::Block&, const std::string& ptr) { visited.push_back(ptr); });
  EXPECT_EQ(visited, (std::vector<std::string>{"/sweep/union/0", "/sweep/union/1", "/sweep/union/2/union/0",
                                               "/sweep/union/2", "/sweep"}));
}

}  // namespace
