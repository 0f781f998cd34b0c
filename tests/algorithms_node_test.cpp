// algorithm/sft and algorithm/grpo end to end: the real `mstar` binary on a
// tiny world and a tiny_vlm in a sandbox MSTAR_HOME. SFT drives its loss
// down; GRPO raises the mean reward of a task a random policy solves
// sometimes; a GRPO node killed after a checkpoint and an SFT node
// interrupted mid-run (both in the one TrainingLoop) resume and log exactly
// the metrics of an uninterrupted run (one thread).
#include <chrono>
#include <csignal>
#include <thread>

#include "algorithms_helpers.h"
#include "host_helpers.h"

using namespace mstar::testing;

namespace {

// GRPO on the length task: DAPO's soft penalty is 0 for one token and falls
// to -1 at six, so stopping early is rewarded; a random policy over ~96
// tokens stops before six tokens now and then.
std::string grpo_node(const std::string& extra, const std::string& kl_penalty = "full") {
  return R"(
  grpo:
    plugin: algorithm/grpo
    inputs: {model: init, data: world.train, val_data: world.bench}
    params: {file: tfq_lite.jsonl, n: 8, rollout_batch_size: 8, global_batch_size: 4, micro_batch_size_update: 16,
             micro_batch_size_experience: 32, max_response_length: 6, temperature: 1.0, top_p: 1.0,
             lr: 3.0e-3, kl_coef: 0.01, sample_freq: 5, val_max_rows: 8, val_freq: 10, kl_penalty: )" +
         kl_penalty + R"(,
             reward: {plugin: reward/length, max_length: 6, buffer: 5})" +
         extra + "}\n";
}

std::vector<double> series(mstar::registry::Registry& reg, const std::string& key, const std::string& metric) {
  std::vector<double> out;
  for (const auto& p : reg.metrics(key, {metric})) out.push_back(p.value);
  return out;
}

double mean_of(const std::vector<double>& v, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += v.at(i);
  return s / static_cast<double>(end - begin);
}

// The series of `node` that do not depend on the clock, by "key@step".
std::map<std::string, double> deterministic_series(const Sandbox& sb, const std::string& node) {
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  std::map<std::string, double> out;
  for (const auto& p : reg->metrics(nodes.at(node).cache_key)) {
    if (p.key.rfind("time/", 0) == 0 || p.key == "tokens_per_s") continue;
    out[p.key + "@" + std::to_string(p.step)] = p.value;
  }
  return out;
}

// Runs `yaml` uninterrupted; then again, stopped by `signal` once `node` has
// checkpointed step 6 or later, and once more to the end. The resumed node
// must log exactly the deterministic series of the uninterrupted one (one
// thread). SIGINT reaches the node as a cancellation: it checkpoints the
// step it stopped at, says so, and resumes from that step.
void expect_stopped_run_resumes_exactly(const std::string& yaml, const std::string& node, int signal,
                                        size_t min_points) {
  Sandbox clean;
  auto f0 = clean.write("resume.yaml", yaml);
  auto r0 = clean.run({"run", f0.string()});
  ASSERT_EQ(r0.code(), 0) << r0.err;
  const auto expected = deterministic_series(clean, node);

  Sandbox sb;
  auto f1 = sb.write("resume.yaml", yaml);
  auto child = sb.spawn({"run", f1.string(), "--no-live"});
  int seen = -1;
  for (int waited = 0; waited < 120000 && seen < 6; waited += 5) {
    seen = checkpoint_step(sb);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(child.id(), signal);
  child.wait();
  ASSERT_GE(seen, 6) << "no checkpoint appeared";
  const int stopped_at = checkpoint_step(sb);
  if (signal == SIGINT) {
    auto reg = sb.registry();
    const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at(node);
    EXPECT_EQ(n.status, "interrupted");
    const std::string log = slurp(n.log_path);
    EXPECT_NE(log.find("algorithm/" + node + " stopped at step " + std::to_string(stopped_at) +
                       "; it resumes from there"),
              std::string::npos)
        << log;
  }
  auto again = sb.run({"run", f1.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  EXPECT_NE(slurp(nodes.at(node).log_path).find("resumed from the checkpoint of step " + std::to_string(stopped_at)),
            std::string::npos);
  const auto got = deterministic_series(sb, node);
  EXPECT_GT(expected.size(), min_points);
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [k, v] : expected) {
    auto it = got.find(k);
    ASSERT_NE(it, got.end()) << k;
    EXPECT_EQ(it->second, v) << k;
  }
  // The resumed artifact holds the whole series, re-logged from the checkpoint.
  const std::string metrics = slurp(fs::path(nodes.at(node).artifact_path) / "metrics.jsonl");
  EXPECT_NE(metrics.find("\"step\":1,"), std::string::npos);
}

// SFT runs in the same loop as GRPO: validation, checkpoints, cancellation.
const char* kSftNode = R"(
  sft:
    plugin: algorithm/sft
    inputs: {model: init, data: world.train, val_data: world.bench}
    params: {file: tfq_lite.jsonl, response_template: "<answer> {answer} </answer>", max_steps: 300, batch_size: 4,
             micro_batch_size: 4, lr: 1.0e-3, sample_freq: 50, samples_per_log: 1, save_freq: 2,
             val_max_rows: 4, val_max_new_tokens: 4, val_freq: 100}
)";

}  // namespace

TEST(AlgorithmsEndToEnd, SftDrivesTheLossDown) {
  Sandbox sb;
  auto file = sb.write("sft.yaml", std::string("name: sft\nseed: 1\nnodes:") + tiny_world_and_base() + R"(
  sft:
    plugin: algorithm/sft
    inputs: {model: init, data: world.train}
    params: {file: pretrain.jsonl, max_steps: 40, batch_size: 8, micro_batch_size: 8, lr: 3.0e-3,
             lr_schedule: constant, lr_warmup_ratio: 0, sample_freq: 20, samples_per_log: 2}
)");
  auto r = sb.run({"run", file.string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  const auto loss = series(*reg, nodes.at("sft").cache_key, "loss");
  ASSERT_EQ(loss.size(), 40u);
  const double first = mean_of(loss, 0, 5), last = mean_of(loss, 35, 40);
  std::cout << "sft loss: first 5 steps " << first << ", last 5 " << last << "\n";
  EXPECT_LT(last, 0.6 * first);
  EXPECT_EQ(series(*reg, nodes.at("sft").cache_key, "token_accuracy").size(), 40u);
  const fs::path art = nodes.at("sft").artifact_path;
  for (const char* f : {"model.safetensors", "config.json", "tokenizer.json", "samples.txt", "manifest.json"})
    EXPECT_TRUE(fs::exists(art / f)) << f;
  EXPECT_NE(slurp(art / "manifest.json").find("\"artifact_type\": \"backbone\""), std::string::npos);
}

TEST(AlgorithmsEndToEnd, DirectAnswerSftAndValidationPerKindOfStatement) {
  // response_template builds the targets from the rows' answers; the
  // validation splits balanced accuracy by level and by what a statement
  // tests (the world's "kind:X" tags: present, colour, position, ...).
  Sandbox sb;
  auto file = sb.write("direct.yaml", std::string("name: direct\nseed: 1\nnodes:") + tiny_world_and_base() + R"(
  sft:
    plugin: algorithm/sft
    inputs: {model: init, data: world.train, val_data: world.bench}
    params: {file: tfq_lite.jsonl, response_template: "<answer> {answer} </answer>", max_steps: 4, batch_size: 8,
             micro_batch_size: 8, lr: 3.0e-3, sample_freq: 2, samples_per_log: 2, val_file: tfq.jsonl,
             val_temperature: 0, val_max_new_tokens: 6, val_freq: 2}
)");
  auto r = sb.run({"run", file.string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  const std::string key = nodes_of(*reg, reg->list_runs().at(0).id).at("sft").cache_key;
  EXPECT_EQ(series(*reg, key, "loss").size(), 4u);
  EXPECT_FALSE(series(*reg, key, "val/balanced_accuracy/literal").empty());
  size_t per_kind = 0;
  for (const char* kind : {"present", "colour", "position", "layout", "count"})
    per_kind += series(*reg, key, std::string("val/balanced_accuracy/literal/") + kind).empty() ? 0 : 1;
  EXPECT_GE(per_kind, 2u) << "validation per kind of literal statement";
  // The loop both algorithms share times each validation (steps 0, 2, 4)
  // and sums up the gain over the starting model.
  EXPECT_EQ(series(*reg, key, "time/validation").size(), 3u);
  const auto summaries = reg->summaries(key);
  EXPECT_EQ(summaries.count("val_gain/balanced_accuracy"), 1u);
  EXPECT_DOUBLE_EQ(summaries.at("val_gain/accuracy"), summaries.at("val/accuracy") -
                                                   series(*reg, key, "val/accuracy").front());
  EXPECT_NE(slurp(fs::path(nodes_of(*reg, reg->list_runs().at(0).id).at("sft").artifact_path) / "samples.txt").find("<answer>"),
            std::string::npos);
}

TEST(AlgorithmsEndToEnd, GrpoRaisesTheMeanRewardAndStartsAtZeroKl) {
  Sandbox sb;
  auto file = sb.write("grpo.yaml", std::string("name: grpo\nseed: 1\nnodes:") + tiny_world_and_base() +
                                        grpo_node(", max_steps: 30, save_freq: 0"));
  auto r = sb.run({"run", file.string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  const std::string key = nodes.at("grpo").cache_key;
  const auto reward = series(*reg, key, "reward/mean");
  ASSERT_EQ(reward.size(), 30u);
  const double first = mean_of(reward, 0, 5), last = mean_of(reward, 25, 30);
  std::cout << "grpo reward: first 5 steps " << first << ", last 5 " << last << "\n";
  EXPECT_GT(last, first + 0.2);
  // A fresh reference equals the policy: the exact KL of the first update is 0.
  const auto kl = series(*reg, key, "kl");
  ASSERT_FALSE(kl.empty());
  EXPECT_LT(std::abs(kl.front()), 1e-6);
  for (const char* m : {"reward/std", "response_length/mean", "response_length/max", "entropy", "clip_frac/higher",
                        "clip_frac/lower", "grad_norm", "lr", "tokens_per_s", "time/sampling", "time/reward",
                        "time/old_logprobs", "time/ref_logprobs", "time/update", "p_true", "mixed_groups",
                        "val/balanced_accuracy", "val/accuracy", "val/reward"})
    EXPECT_FALSE(series(*reg, key, m).empty()) << m;
  EXPECT_EQ(series(*reg, key, "val/accuracy").size(), 4u) << "steps 0, 10, 20, 30";
  const fs::path art = nodes.at("grpo").artifact_path;
  EXPECT_NE(slurp(art / "samples.txt").find("=== step 5 ==="), std::string::npos);
  EXPECT_TRUE(fs::exists(art / "model.safetensors"));
}

// The reference validates with val_override_config {temperature: 0.5, n: 1}
// over the rollout's top_p 0.99 (train/examples/config.yaml), judged by the
// reward (ray_trainer.py _validate): the defaults of both algorithms.
TEST(AlgorithmsEndToEnd, ValidationDefaultsOfTheReference) {
  Sandbox sb;
  for (const char* algorithm : {"algorithm/grpo", "algorithm/sft"}) {
    auto r = sb.run({"plugins", "info", algorithm, "--format", "json"});
    ASSERT_EQ(r.code(), 0) << r.err;
    const mstar::Json info = mstar::Json::parse(r.out);
    std::map<std::string, mstar::Json> defaults;
    for (const auto& param : info.at("params"))
      if (param.contains("default")) defaults[param.at("name").get<std::string>()] = param.at("default");
    EXPECT_EQ(defaults["val_top_p"], 0.99) << algorithm;
    EXPECT_EQ(defaults["val_temperature"], 0.5) << algorithm;
    EXPECT_EQ(defaults["val_answers"], "reward") << algorithm;
  }
}

TEST(AlgorithmsEndToEnd, GrpoOptionsRunTogether) {
  // Dynamic sampling, RLOO, Dr. GRPO's aggregation, KL in the reward, the
  // answer-slot advantage, two PPO epochs and a frozen vision tower in one run.
  Sandbox sb;
  auto file = sb.write("options.yaml", std::string("name: options\nseed: 2\nnodes:") + tiny_world_and_base() +
                                           grpo_node(", max_steps: 4, save_freq: 2, adv_estimator: rloo, "
                                                     "dynamic_sampling: true, dynamic_sampling_max_tries: 2, "
                                                     "loss_agg_mode: seq-mean-token-sum-norm, kl_mode: reward, "
                                                     "advantage_mask: answer, ppo_epochs: 2, freeze_vision: true",
                                                     "low_var_kl"));
  auto r = sb.run({"run", file.string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  const std::string key = nodes.at("grpo").cache_key;
  EXPECT_EQ(series(*reg, key, "dynamic_sampling/kept_groups").size(), 4u);
  EXPECT_EQ(series(*reg, key, "kl").size(), 4u);
  EXPECT_TRUE(series(*reg, key, "kl_loss").empty()) << "the KL is in the reward, not the loss";
}

TEST(AlgorithmsEndToEnd, KilledGrpoResumesWithTheMetricsOfAnUninterruptedRun) {
  const std::string yaml = std::string("name: resume\nseed: 3\nnodes:") + tiny_world_and_base() +
                           grpo_node(", max_steps: 40, save_freq: 3, sft_coef: 0.5, sft_file: sft.jsonl, "
                                     "sft_batch_size: 4",
                                     "low_var_kl");
  expect_stopped_run_resumes_exactly(yaml, "grpo", SIGKILL, 40u * 20u);
}

TEST(AlgorithmsEndToEnd, InterruptedSftCheckpointsWhereItStoppedAndResumesExactly) {
  expect_stopped_run_resumes_exactly(std::string("name: sft-resume\nseed: 4\nnodes:") + tiny_world_and_base() + kSftNode, "sft",
                                     SIGINT, 300u * 6u);
}
