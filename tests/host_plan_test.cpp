// make_plan and node_cache_key without plugin libraries: which node
// instances a file gives, which of them trials share, and what a cache key
// depends on.
#include <gtest/gtest.h>

#include <set>

#include "exec/plan.h"
#include "host_unit_helpers.h"
#include "mstar/error.h"

namespace mstar::testing {
namespace {

constexpr const char* kSweep = R"(name: shared
nodes:
  data:  {plugin: test/gen, params: {size: 5}, seed: 0}
  train: {plugin: test/train, inputs: {data: data}}
  eval:  {plugin: test/eval, inputs: {model: train, data: data}}
sweep:
  grid: {train.lr: [0.1, 0.2]}
  seeds: [1, 2]
)";

Plan plan_of(const TempDir& tmp, const std::string& yaml, const std::vector<std::string>& overrides = {},
             const std::map<std::string, LoadedPlugin>& plugins = fake_plugins()) {
  return make_plan({tmp.write("exp.yaml", yaml), overrides, {}}, plugins);
}

// The message of the Error(BadInput) that make_plan throws.
std::string plan_error(const TempDir& tmp, const std::string& yaml) {
  try {
    plan_of(tmp, yaml);
  } catch (const Error& e) {
    EXPECT_TRUE(e.is_bad_input()) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "make_plan accepted:\n" << yaml;
  return "";
}

TEST(MakePlan, UpstreamWithAPinnedSeedIsOneInstanceSharedByEveryTrial) {
  TempDir tmp;
  const Plan plan = plan_of(tmp, kSweep);
  ASSERT_EQ(plan.trials.size(), 4u);  // 2 lr x 2 seeds
  // One data instance, four train and four eval instances.
  EXPECT_EQ(plan.instances.size(), 9u);
  const NodeInstance& data = instance_of(plan, 0, "data");
  EXPECT_EQ(data.seed, 0u);
  EXPECT_EQ(data.users.size(), 4u);
  std::set<std::string> trains, trial_ids;
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    EXPECT_EQ(instance_of(plan, t, "data").key, data.key);
    const NodeInstance& train = instance_of(plan, t, "train");
    trains.insert(train.key);
    trial_ids.insert(plan.trials[t].id);
    EXPECT_EQ(train.seed, static_cast<uint64_t>(plan.trials[t].seed)) << "an unpinned node runs with the trial seed";
    EXPECT_EQ(train.inputs.at("data"), data.key);
    EXPECT_EQ(train.deps, std::vector<std::string>{data.key});
    const NodeInstance& eval = instance_of(plan, t, "eval");
    EXPECT_EQ(eval.inputs.at("model"), train.key);
    EXPECT_EQ(eval.inputs.at("data"), data.key);
  }
  EXPECT_EQ(trains.size(), 4u);
  EXPECT_EQ(trial_ids.size(), 4u);
}

TEST(MakePlan, OrderPutsEveryInstanceAfterItsInputs) {
  TempDir tmp;
  const Plan plan = plan_of(tmp, kSweep);
  ASSERT_EQ(plan.order.size(), plan.instances.size());
  std::set<std::string> placed;
  for (const auto& key : plan.order) {
    for (const auto& dep : plan.instances.at(key).deps) EXPECT_TRUE(placed.count(dep)) << key << " before " << dep;
    placed.insert(key);
  }
}

TEST(MakePlan, AnUnpinnedUpstreamRunsOncePerSeedAndIsSharedAcrossOtherAxes) {
  TempDir tmp;
  std::string yaml = kSweep;
  yaml.replace(yaml.find(", seed: 0}"), 10, "}");
  const Plan plan = plan_of(tmp, yaml);
  ASSERT_EQ(plan.trials.size(), 4u);
  std::map<int64_t, std::string> data_by_seed;
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    const NodeInstance& data = instance_of(plan, t, "data");
    EXPECT_EQ(data.seed, static_cast<uint64_t>(plan.trials[t].seed));
    auto [it, fresh] = data_by_seed.emplace(plan.trials[t].seed, data.key);
    if (!fresh) {
      EXPECT_EQ(it->second, data.key) << "same seed, different lr: one data instance";
    }
    EXPECT_EQ(data.users.size(), 2u);
  }
  ASSERT_EQ(data_by_seed.size(), 2u);
  EXPECT_NE(data_by_seed.begin()->second, data_by_seed.rbegin()->second);
  EXPECT_EQ(plan.instances.size(), 10u);  // 2 data + 4 train + 4 eval
}

TEST(MakePlan, ComponentsAndLibrariesAreRecorded) {
  TempDir tmp;
  const Plan plan = plan_of(tmp, kSweep);
  EXPECT_EQ(plan.components.count("reward/fake"), 1u);
  EXPECT_EQ(plan.components.count("test/gen"), 0u);
  for (const char* id : {"test/gen", "test/train", "test/eval", "reward/fake"}) {
    ASSERT_TRUE(plan.libraries.contains(id)) << id;
    EXPECT_EQ(plan.libraries[id]["sha256"], std::string(64, '0'));
  }
  EXPECT_FALSE(plan.libraries.contains("test/read")) << "a plugin the plan does not use";
}

TEST(MakePlan, OverridesReachTheParamsAndTheKeys) {
  TempDir tmp;
  const Plan base = plan_of(tmp, kSweep);
  const Plan bigger = plan_of(tmp, kSweep, {"data.size=6"});
  EXPECT_EQ(instance_of(bigger, 0, "data").params["size"], 6);
  EXPECT_NE(instance_of(bigger, 0, "data").key, instance_of(base, 0, "data").key);
  // Downstream keys change with their input's key.
  EXPECT_NE(instance_of(bigger, 0, "train").key, instance_of(base, 0, "train").key);
}

TEST(MakePlan, ProblemsOfAllNodesAreReportedTogetherWithTheirLines) {
  TempDir tmp;
  const std::string msg = plan_error(tmp, R"(name: bad
nodes:
  data:  {plugin: test/gne}
  train: {plugin: test/train, inputs: {data: data}, params: {lr: fast}}
)");
  EXPECT_NE(msg.find("exp.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown plugin 'test/gne'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("test/gen"), std::string::npos) << "did you mean: " << msg;
  EXPECT_NE(msg.find("exp.yaml:4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lr"), std::string::npos) << msg;
}

TEST(MakePlan, AComponentIsNotANode) {
  TempDir tmp;
  const std::string msg = plan_error(tmp, "name: c\nnodes:\n  r: {plugin: reward/fake}\n");
  EXPECT_NE(msg.find("exp.yaml:3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("reward/fake is a reward component, not a node"), std::string::npos) << msg;
}

TEST(MakePlan, AMissingPathParamNamesTheNodeTheParamAndThePath) {
  TempDir tmp;
  const std::string msg = plan_error(tmp, "name: p\nnodes:\n  r: {plugin: test/read, params: {file: " +
                                              (tmp.dir() / "absent.txt").string() + "}}\n");
  EXPECT_NE(msg.find("r.file: no such file or directory: " + (tmp.dir() / "absent.txt").string()), std::string::npos)
      << msg;
}

TEST(MakePlan, AMissingInputIsAnError) {
  TempDir tmp;
  const std::string msg = plan_error(tmp, "name: m\nnodes:\n  t: {plugin: test/train}\n");
  EXPECT_NE(msg.find("data"), std::string::npos) << msg;
}

NodeInstance base_node() {
  NodeInstance n;
  n.plugin = "test/train";
  n.plugin_version = "1.0.0";
  n.params = {{"lr", 0.1}, {"steps", 3}};
  n.inputs = {{"data", "0123abcd/train"}};
  n.deps = {"0123abcd"};
  n.seed = 1;
  return n;
}

TEST(NodeCacheKey, ChangesWithEverythingThatChangesTheOutput) {
  const std::string key = node_cache_key(base_node());
  EXPECT_EQ(key.size(), 40u);
  std::map<std::string, NodeInstance> variants;
  variants["params"] = base_node(), variants["params"].params["lr"] = 0.2;
  variants["new param"] = base_node(), variants["new param"].params["extra"] = true;
  variants["input key"] = base_node(), variants["input key"].inputs["data"] = "4567ef01/train";
  variants["input output"] = base_node(), variants["input output"].inputs["data"] = "0123abcd/bench";
  variants["input name"] = base_node(), variants["input name"].inputs = {{"dataset", "0123abcd/train"}};
  variants["seed"] = base_node(), variants["seed"].seed = 2;
  variants["plugin version"] = base_node(), variants["plugin version"].plugin_version = "1.0.1";
  variants["plugin"] = base_node(), variants["plugin"].plugin = "test/train2";
  variants["file fingerprint"] = base_node(), variants["file fingerprint"].fingerprints = {{"file", "aa"}};
  variants["libtorch"] = base_node(), variants["libtorch"].libtorch = "2.11.0";
  std::set<std::string> keys{key};
  for (const auto& [what, node] : variants) {
    const std::string k = node_cache_key(node);
    EXPECT_NE(k, key) << what;
    keys.insert(k);
  }
  EXPECT_EQ(keys.size(), variants.size() + 1);

  NodeInstance a = base_node(), b = base_node();
  a.fingerprints = {{"file", "aa"}};
  b.fingerprints = {{"file", "bb"}};
  EXPECT_NE(node_cache_key(a), node_cache_key(b)) << "edited file content";

  NodeInstance old_torch = base_node(), new_torch = base_node();
  old_torch.libtorch = "1.13.1";
  new_torch.libtorch = "2.11.0";
  EXPECT_NE(node_cache_key(old_torch), node_cache_key(new_torch)) << "an artifact of another LibTorch";
}

TEST(NodeCacheKey, IgnoresHowANodeIsRunAndWhoUsesIt) {
  const std::string key = node_cache_key(base_node());
  NodeInstance n = base_node();
  n.cpus = 8;
  n.timeout_s = 60;
  n.retries = 3;
  n.library = "/elsewhere/libmstar_train.so";
  n.users = {{0, "train"}, {3, "other_name"}};
  n.key = "anything";
  EXPECT_EQ(node_cache_key(n), key);
  // Params are canonical JSON: the order they were written in does not matter.
  NodeInstance reordered = base_node();
  reordered.params = Json::object();
  reordered.params["steps"] = 3;
  reordered.params["lr"] = 0.1;
  EXPECT_EQ(node_cache_key(reordered), key);
}

TEST(NodeCacheKey, PathParamsEnterByContentNotByTime) {
  TempDir tmp;
  const fs::path file = tmp.write("data.txt", "one");
  const std::string yaml = "name: f\nnodes:\n  r: {plugin: test/read, params: {file: " + file.string() + "}}\n";
  const std::string first = instance_of(plan_of(tmp, yaml), 0, "r").key;
  tmp.write("data.txt", "one");  // rewritten, same bytes
  EXPECT_EQ(instance_of(plan_of(tmp, yaml), 0, "r").key, first);
  tmp.write("data.txt", "two");
  const Plan plan = plan_of(tmp, yaml);
  const NodeInstance& edited = instance_of(plan, 0, "r");
  EXPECT_NE(edited.key, first);
  EXPECT_EQ(edited.params["file"], file.string());
  EXPECT_TRUE(edited.fingerprints.contains("file"));
}

TEST(NodeCacheKey, APluginVersionBumpChangesTheKeysOfItsNodesAndTheirDependants) {
  TempDir tmp;
  const Plan before = plan_of(tmp, kSweep);
  const Plan after = plan_of(tmp, kSweep, {}, fake_plugins("2.0.0"));
  EXPECT_NE(instance_of(after, 0, "data").key, instance_of(before, 0, "data").key);
  EXPECT_NE(instance_of(after, 0, "eval").key, instance_of(before, 0, "eval").key);
  EXPECT_NE(after.trials[0].id, before.trials[0].id);
}

}  // namespace
}  // namespace mstar::testing
