// The shipped studies (experiments/*.yaml): each expands to the trials and
// node instances its design says (a dry run), they share upstream work
// through the cache, and the quickstart's graph runs end to end at a
// reduced size and prints its before/after table.
#include <regex>

#include "host_helpers.h"

namespace mstar::testing {
namespace {

const fs::path kExperiments = fs::path(MSTAR_SOURCE_DIR) / "experiments";
const std::string kBaseModel = (fs::path(MSTAR_SOURCE_DIR) / "models" / "tiny_vlm-qwen-S-base").string();

struct Counts {
  int trials = -1, nodes = -1, instances = -1, cached = -1;
};

// "3 trial(s), 12 node(s) in all; 6 node instance(s) after sharing: 4 to run, 2 cached, ..."
Counts parse_counts(const std::string& out) {
  static const std::regex re(
      R"((\d+) trial\(s\), (\d+) node\(s\) in all; (\d+) node instance\(s\) after sharing: \d+ to run, (\d+) cached)");
  std::smatch m;
  Counts c;
  if (std::regex_search(out, m, re)) c = {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
  return c;
}

// Small enough for a test, same structure: overrides of the nodes every
// study has (world, base, grpo, the TFQ-Bench nodes).
std::vector<std::string> tiny_overrides(bool with_bench = true) {
  std::vector<std::string> o = {"world.train_images=16",    "world.bench_images=6",      "world.pretrain_images=8",
          "world.lite_train_images=4", "world.lite_bench_images=4", "base.max_steps=3",
          "base.batch_size=8",        "base.micro_batch_size=8",   "base.val_freq=0",
          "grpo.max_steps=2",         "grpo.time_limit_minutes=0", "grpo.rollout_batch_size=4",
          "grpo.global_batch_size=4", "grpo.n=4",                  "grpo.val_freq=0",
          "tfq_base.limit=8",         "tfq_grpo.limit=8"};
  if (!with_bench) o.resize(o.size() - 2);  // tfq_grpo_evidence.yaml has no benchmark nodes
  return o;
}

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(Studies, EachStudyExpandsToItsDesign) {
  Sandbox sb;
  // trials, nodes over all trials, distinct node instances once shared work
  // (pinned seeds: world, init, base, the base's evaluations) is counted once.
  const std::map<std::string, Counts> expected = {
      {"quickstart.yaml", {1, 6, 6, 0}},
      {"base_models.yaml", {1, 6, 6, 0}},  // world, init, base and its TFQ, MCQ and OSQ evaluations
      {"tfq_grpo_evidence.yaml", {3, 12, 6, 0}},
      {"main.yaml", {3, 36, 24, 0}},  // 6 shared + 3 x (grpo, tfq/mcq/osq of grpo, 2 compares)
      {"generalization.yaml", {3, 39, 23, 0}},
      {"model_scaling.yaml", {9, 81, 43, 0}},  // a base per size, shared by its 3 seeds
      {"model_scaling_steps.yaml", {6, 54, 29, 0}},  // S and M
      {"data_scaling.yaml", {15, 150, 56, 0}},  // 5 sizes x 3 seeds; one subset per size
      {"literal_mix.yaml", {6, 54, 24, 0}},     // a quarter (main's GRPO) and a half
      {"architecture.yaml", {6, 54, 29, 0}},
      {"training_strategy.yaml", {3, 48, 36, 0}},
      {"perception.yaml", {3, 9, 7, 0}},  // 3 seeds share the world
      {"sft_grpo_hybrid.yaml", {1, 5, 5, 0}},
  };
  for (const auto& [file, want] : expected) {
    std::vector<std::string> args = {"run", (kExperiments / file).string(), "--dry-run"};
    if (file == "quickstart.yaml") args.push_back("base.path=" + kBaseModel);  // independent of the working directory
    auto r = sb.run(args);
    ASSERT_EQ(r.code(), 0) << file << "\n" << r.err << r.out;
    const Counts got = parse_counts(r.out);
    EXPECT_EQ(got.trials, want.trials) << file << "\n" << r.out;
    EXPECT_EQ(got.nodes, want.nodes) << file << "\n" << r.out;
    EXPECT_EQ(got.instances, want.instances) << file << "\n" << r.out;
  }
}

TEST(Studies, ShareTheBaseAndTheDataThroughTheCache) {
  // Run one seed of main at a tiny size, then ask the other studies what
  // they would run with the same sizes: the world, the initial model, the
  // base and its TFQ-Bench evaluation are already there.
  Sandbox sb;
  auto r = sb.run(with({"run", (kExperiments / "main.yaml").string(), "--set-sweep", "seed=1"}, tiny_overrides()));
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  for (const char* file : {"generalization.yaml", "model_scaling.yaml", "model_scaling_steps.yaml", "architecture.yaml",
                           "training_strategy.yaml", "data_scaling.yaml", "tfq_grpo_evidence.yaml"}) {
    const bool bench = std::string(file) != "tfq_grpo_evidence.yaml";
    auto d = sb.run(with({"run", (kExperiments / file).string(), "--dry-run"}, tiny_overrides(bench)));
    ASSERT_EQ(d.code(), 0) << file << "\n" << d.err << d.out;
    const Counts c = parse_counts(d.out);
    // world + init + base, and tfq_base or (evidence) seed 1's grpo at least.
    EXPECT_GE(c.cached, 4) << file << "\n" << d.out;
  }
}

TEST(Studies, QuickstartRunsEndToEndAtAReducedSize) {
  Sandbox sb;
  auto r = sb.run({"run", (kExperiments / "quickstart.yaml").string(), "base.path=" + kBaseModel,
                   "world.train_images=40", "world.bench_images=10", "world.pretrain_images=0",
                   "world.lite_train_images=4", "world.lite_bench_images=16", "grpo.max_steps=4", "grpo.val_freq=2",
                   "grpo.rollout_batch_size=8", "grpo.global_batch_size=8"});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  EXPECT_NE(r.out.find("TFQ-Bench-lite: base vs TFQ-GRPO"), std::string::npos) << r.out;
  for (const char* row : {"| all |", "| literal |", "| symbolic |", "| implication |"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  // Each row ends with a verdict; at this size it is most likely noise, but
  // the table must say one of the three.
  const std::regex verdict(R"(\| (gain|loss|within noise) \|)");
  EXPECT_TRUE(std::regex_search(r.out, verdict)) << r.out;
  auto reg = sb.registry();
  const auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  EXPECT_EQ(nodes.at("base").status, "done");
  EXPECT_EQ(nodes.at("compare").status, "done");
}

TEST(Studies, CompareIsZeroForAModelAgainstItselfAndRefusesOtherRows) {
  // The same model evaluated twice (sampling with different node seeds):
  // the interval is computed on real differences; two evaluations of
  // different rows are refused with both artifacts named.
  Sandbox sb;
  const std::string graph = "name: cmp\nseed: 1\ninclude: " + (kExperiments / "common/world.yaml").string() + R"(
nodes:
  world: {params: {train_images: 4, bench_images: 12, pretrain_images: 0, lite_train_images: 2, lite_bench_images: 2}}
  base: {plugin: backbone/load, params: {path: )" + kBaseModel + R"(}}
  a: {plugin: benchmark/tfq_bench, seed: 1, inputs: {model: base, data: world.bench}, params: {template: "{problem}", greedy: true, max_new_tokens: 6}}
  b: {plugin: benchmark/tfq_bench, seed: 2, inputs: {model: base, data: world.bench}, params: {template: "{problem}", greedy: true, max_new_tokens: 6}}
  c: {plugin: benchmark/tfq_bench, inputs: {model: base, data: world.bench}, params: {template: "{problem}", greedy: true, max_new_tokens: 6, limit: 10}}
  same: {plugin: benchmark/compare, inputs: {before: a, after: b}}
  other: {plugin: benchmark/compare, inputs: {before: a, after: c}}
)";
  auto r = sb.run({"run", sb.write("cmp.yaml", graph).string()});
  EXPECT_NE(r.code(), 0) << "the `other` comparison must fail";
  auto reg = sb.registry();
  const auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  ASSERT_EQ(nodes.at("same").status, "done") << r.err << r.out;
  EXPECT_EQ(nodes.at("other").status, "failed");
  EXPECT_NE(nodes.at("other").reason.find("not over the same question ids"), std::string::npos) << nodes.at("other").reason;
  const std::string report = slurp(fs::path(nodes.at("same").artifact_path) / "report.md");
  EXPECT_NE(report.find("+0.0 [+0.0, +0.0] | within noise"), std::string::npos) << report;
}

}  // namespace
}  // namespace mstar::testing
