// Data-parallel algorithm/sft and algorithm/grpo end to end: the real
// `mstar` binary starts a node with world_size 2 as two exec-node ranks on
// this machine. After K steps their parameters equal one rank's on the same
// global batch (fp32, one thread each); a rank killed mid-run fails the node
// without a hang, and the rerun resumes from rank 0's checkpoint.
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "algorithms_helpers.h"
#include "host_helpers.h"

using namespace mstar::testing;

namespace {

std::string sft_node(int world_size, int max_steps, int save_freq) {
  return R"(
  sft:
    plugin: algorithm/sft
    inputs: {model: init, data: world.train}
    params: {file: pretrain.jsonl, max_steps: )" +
         std::to_string(max_steps) + R"(, batch_size: 8, micro_batch_size: 8, lr: 1.0e-3, lr_schedule: constant,
             lr_warmup_ratio: 0, sample_freq: 0, intra_op_threads: 1, save_freq: )" +
         std::to_string(save_freq) + ", world_size: " + std::to_string(world_size) + "}\n";
}

// GRPO with two mini-batches per step, micro-batches that split groups, KL
// in the reward (every rank needs every row's KL) and balance_batch on.
std::string grpo_node(int world_size, int max_steps, int save_freq, const std::string& extra = ", kl_mode: reward") {
  return R"(
  grpo:
    plugin: algorithm/grpo
    inputs: {model: init, data: world.train}
    params: {file: tfq_lite.jsonl, n: 4, rollout_batch_size: 4, global_batch_size: 2, micro_batch_size_update: 3,
             micro_batch_size_experience: 5, max_response_length: 6, temperature: 1.0, top_p: 1.0, lr: 1.0e-3,
             kl_coef: 0.05, sample_freq: 1, intra_op_threads: 1,
             reward: {plugin: reward/length, max_length: 6, buffer: 5}, max_steps: )" +
         std::to_string(max_steps) + ", save_freq: " + std::to_string(save_freq) +
         ", world_size: " + std::to_string(world_size) + extra + "}\n";
}

// name -> fp32 values of a safetensors file.
std::map<std::string, std::vector<float>> read_f32(const fs::path& file) {
  const std::string bytes = slurp(file);
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  const mstar::Json h = mstar::Json::parse(bytes.substr(8, header));
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : h.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(t.at("dtype"), "F32") << name;
    const size_t begin = t.at("data_offsets")[0], end = t.at("data_offsets")[1];
    std::vector<float> v((end - begin) / 4);
    std::memcpy(v.data(), bytes.data() + 8 + header + begin, end - begin);
    out[name] = std::move(v);
  }
  return out;
}

struct Trained {
  fs::path artifact;
  std::vector<double> loss;
};

// The node `name` trained in `sb`, with its series `metric`.
Trained train(const Sandbox& sb, const std::string& name, const std::string& node, const std::string& metric) {
  auto file = sb.write("dp.yaml", std::string("name: dp\nseed: 2\nnodes:") + tiny_world_and_base() + node);
  auto r = sb.run({"run", file.string()});
  EXPECT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  Trained t{nodes.at(name).artifact_path, {}};
  for (const auto& p : reg->metrics(nodes.at(name).cache_key, {metric})) t.loss.push_back(p.value);
  return t;
}

Trained train(const Sandbox& sb, int world_size, int steps) {
  return train(sb, "sft", sft_node(world_size, steps, 0), "loss");
}

// Largest |a - b| over every parameter of two artifacts' model.safetensors,
// and the largest move of `a` from `init`'s.
std::pair<double, double> compare_models(const fs::path& a, const fs::path& b, const fs::path& init) {
  const auto pa = read_f32(a / "model.safetensors"), pb = read_f32(b / "model.safetensors");
  const auto p0 = read_f32(init / "model.safetensors");
  EXPECT_EQ(pa.size(), pb.size());
  double worst = 0, moved = 0;
  for (const auto& [name, va] : pa) {
    const auto& vb = pb.at(name);
    EXPECT_EQ(va.size(), vb.size()) << name;
    for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(va[i] - vb[i])));
      if (p0.count(name)) moved = std::max(moved, static_cast<double>(std::abs(va[i] - p0.at(name)[i])));
    }
  }
  return {worst, moved};
}

fs::path init_artifact(const Sandbox& sb) {
  return nodes_of(*sb.registry(), sb.registry()->list_runs().at(0).id).at("init").artifact_path;
}

// The pid of the exec-node process of `rank` running under `home`, or 0.
pid_t rank_pid(const fs::path& home, int rank) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string env;
    try {
      env = slurp(e.path() / "environ");
    } catch (const std::exception&) {
      continue;
    }
    std::replace(env.begin(), env.end(), '\0', '\n');
    env = "\n" + env;
    if (env.find("\nRANK=" + std::to_string(rank) + "\n") != std::string::npos &&
        env.find("\nMSTAR_HOME=" + home.string() + "\n") != std::string::npos &&
        env.find("\nMSTAR_NODE_SPEC=") != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

}  // namespace

TEST(DataParallelSft, TwoRanksGiveTheParametersOfOneRankOnTheSameGlobalBatch) {
  constexpr int kSteps = 6;
  Sandbox one, two;
  const Trained a = train(one, 1, kSteps), b = train(two, 2, kSteps);
  ASSERT_EQ(a.loss.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(b.loss.size(), static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) EXPECT_NEAR(a.loss[i], b.loss[i], 1e-5) << "step " << i + 1;
  const auto [worst, moved] = compare_models(a.artifact, b.artifact, init_artifact(one));
  std::cout << "max |1 rank - 2 ranks| = " << worst << " after " << kSteps << " steps (max move " << moved << ")\n";
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(moved, 1e-3);  // training moved the parameters: the comparison is not of two untouched models
  // Rank 1 wrote nothing into the store: one staging directory at most, none left.
  const fs::path tmp = two.home() / "store" / "tmp";
  EXPECT_TRUE(!fs::exists(tmp) || fs::is_empty(tmp));
}

TEST(DataParallelSft, AKilledRankFailsTheNodeAndTheRerunResumesFromItsCheckpoint) {
  Sandbox sb;
  auto file = sb.write("dp.yaml", std::string("name: dp-kill\nseed: 2\nnodes:") + tiny_world_and_base() + sft_node(2, 400, 2));
  auto child = sb.spawn({"run", file.string(), "--no-live"});
  int seen = -1;
  for (int waited = 0; waited < 240000 && seen < 4; waited += 5) {
    seen = checkpoint_step(sb);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(seen, 4) << "no checkpoint appeared";
  const pid_t rank1 = rank_pid(sb.home(), 1);
  ASSERT_GT(rank1, 0) << "rank 1 not found";
  ::kill(rank1, SIGKILL);
  child.wait();  // returns: the surviving rank was stopped, not left in a collective
  EXPECT_NE(child.exit_code(), 0);
  {
    auto reg = sb.registry();
    const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at("sft");
    EXPECT_EQ(n.status, "failed");
    EXPECT_NE(n.reason.find("rank 1 of 2 failed (killed by signal 9"), std::string::npos) << n.reason;
  }
  const int stopped_at = checkpoint_step(sb);
  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  auto reg = sb.registry();
  const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at("sft");
  EXPECT_NE(slurp(n.log_path).find("resumed from the checkpoint of step " + std::to_string(stopped_at)),
            std::string::npos);
  EXPECT_EQ(reg->metrics(n.cache_key, {"loss"}).size(), 400u);
}

TEST(DataParallelGrpo, TwoRanksGiveTheParametersOfOneRankOnTheSameGlobalBatch) {
  constexpr int kSteps = 3;
  Sandbox one, two;
  const Trained a = train(one, "grpo", grpo_node(1, kSteps, 0), "reward/mean");
  const Trained b = train(two, "grpo", grpo_node(2, kSteps, 0), "reward/mean");
  // Groups are seeded by (seed, step, group), not by rank: the same samples.
  ASSERT_EQ(a.loss.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(b.loss.size(), static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) EXPECT_NEAR(a.loss[i], b.loss[i], 1e-9) << "reward/mean, step " << i + 1;
  const auto [worst, moved] = compare_models(a.artifact, b.artifact, init_artifact(one));
  std::cout << "grpo: max |1 rank - 2 ranks| = " << worst << " after " << kSteps << " steps (max move " << moved
            << ")\n";
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(moved, 1e-3);
  // Rank 0 alone writes samples, of both ranks' groups (4 a step).
  auto groups = [](const std::string& text) {
    size_t count = 0;
    for (size_t at = text.find("[answer "); at != std::string::npos; at = text.find("[answer ", at + 1)) ++count;
    return count;
  };
  const std::string samples = slurp(b.artifact / "samples.txt");
  EXPECT_EQ(groups(samples), 4u * kSteps);
  EXPECT_EQ(groups(samples), groups(slurp(a.artifact / "samples.txt")));
  auto reg = two.registry();
  const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at("grpo");
  EXPECT_EQ(reg->metrics(n.cache_key, {"balance/token_spread"}).size(), static_cast<size_t>(kSteps));
  for (const char* m : {"loss", "entropy", "kl", "grad_norm", "response_length/mean"}) {
    const auto sa = [&] {
      auto r1 = one.registry();
      return r1->metrics(nodes_of(*r1, r1->list_runs().at(0).id).at("grpo").cache_key, {m});
    }();
    const auto sb = reg->metrics(n.cache_key, {m});
    ASSERT_EQ(sa.size(), sb.size()) << m;
    for (size_t i = 0; i < sa.size(); ++i) EXPECT_NEAR(sa[i].value, sb[i].value, 1e-4) << m << " step " << i + 1;
  }
}

TEST(DataParallelGrpo, OptionsGiveTheParametersOfOneRankOnTwoRanks) {
  // Dynamic sampling (rounds of groups over the ranks), REINFORCE++ (whitened
  // over the whole batch), the exact KL in the loss, per-sequence means, the
  // answer-slot advantage, two PPO epochs, the hybrid's expert rows sliced
  // over the ranks, and consecutive slices instead of balance_batch.
  const std::string extra =
      ", dynamic_sampling: true, dynamic_sampling_max_tries: 2, adv_estimator: reinforce_plus_plus, "
      "kl_penalty: full, kl_mode: loss, loss_agg_mode: seq-mean-token-mean, advantage_mask: answer, ppo_epochs: 2, "
      "sft_coef: 0.5, sft_file: sft.jsonl, sft_batch_size: 3, balance_batch: false";
  constexpr int kSteps = 3;
  Sandbox one, two;
  const Trained a = train(one, "grpo", grpo_node(1, kSteps, 0, extra), "sft_loss");
  const Trained b = train(two, "grpo", grpo_node(2, kSteps, 0, extra), "sft_loss");
  ASSERT_EQ(a.loss.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(b.loss.size(), static_cast<size_t>(kSteps));
  for (int i = 0; i < kSteps; ++i) EXPECT_NEAR(a.loss[i], b.loss[i], 1e-5) << "sft_loss, step " << i + 1;
  const auto [worst, moved] = compare_models(a.artifact, b.artifact, init_artifact(one));
  std::cout << "grpo options: max |1 rank - 2 ranks| = " << worst << " (max move " << moved << ")\n";
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(moved, 1e-3);
}

TEST(DataParallelGrpo, AKilledRankFailsTheNodeAndTheRerunResumesFromItsCheckpoint) {
  constexpr int kSteps = 40;
  Sandbox sb;
  auto file = sb.write("dp.yaml", std::string("name: dp-kill\nseed: 2\nnodes:") + tiny_world_and_base() +
                                      grpo_node(2, kSteps, 2));
  auto child = sb.spawn({"run", file.string(), "--no-live"});
  int seen = -1;
  for (int waited = 0; waited < 240000 && seen < 4; waited += 5) {
    seen = checkpoint_step(sb);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(seen, 4) << "no checkpoint appeared";
  const pid_t rank1 = rank_pid(sb.home(), 1);
  ASSERT_GT(rank1, 0) << "rank 1 not found";
  ::kill(rank1, SIGKILL);
  child.wait();  // returns: rank 0 was stopped, not left waiting in a collective
  EXPECT_NE(child.exit_code(), 0);
  {
    auto reg = sb.registry();
    const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at("grpo");
    EXPECT_EQ(n.status, "failed");
    EXPECT_NE(n.reason.find("rank 1 of 2 failed (killed by signal 9"), std::string::npos) << n.reason;
  }
  const int stopped_at = checkpoint_step(sb);
  ASSERT_LT(stopped_at, kSteps) << "the run ended before rank 1 was killed";
  auto again = sb.run({"run", file.string()});
  ASSERT_EQ(again.code(), 0) << again.err;
  auto reg = sb.registry();
  const auto n = nodes_of(*reg, reg->list_runs().at(0).id).at("grpo");
  EXPECT_NE(slurp(n.log_path).find("resumed from the checkpoint of step " + std::to_string(stopped_at)),
            std::string::npos);
  EXPECT_EQ(reg->metrics(n.cache_key, {"reward/mean"}).size(), static_cast<size_t>(kSteps));
}
