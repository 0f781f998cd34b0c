// The parameters of algorithm/grpo. Defaults are the TFQ-GRPO run scripts of
// MetaphorStar (train/examples/qwen2_5_vl_*_TFQ_Data_Lite_TFQ_GRPO.sh over
// examples/config.yaml, EasyR1 defaults beneath); docs/algorithms.md lists
// them with the tiny-model settings that replace them on a CPU.
#include "common.h"
#include "grpo.h"
#include "mstar/error.h"

namespace mstar::algorithms {

ParamSchema grpo_param_schema() {
  ParamSchema s;
  // data
  s.add(ParamSpec::string("file").def("tfq_lite.jsonl").describe(
       "T/F file of the data input (tfq_lite.jsonl is the TFQ-Data-Lite analog, tfq.jsonl the full set)"));
  add_prompt_params(s, "train on statements of these levels only (empty = all)");
  s.add(literal_mix_param());
  s.add(ParamSpec::boolean("balance_answers").def(false).describe("half of each batch answered T, half F"))
      .add(ParamSpec::boolean("shuffle").def(true).describe("reshuffle the rows every epoch (seeded)"))
      .add(ParamSpec::integer("max_prompt_length").def(5500).range(0, 1 << 24).describe(
          "rows with longer prompts are dropped (filter_overlong_prompts); 0 = keep all"))
      .add(ParamSpec::integer("rollout_batch_size").def(64).range(1, 1 << 20).describe("prompts per step"))
      .add(ParamSpec::integer("epochs").def(5).range(1, 1 << 20).describe("passes over the rows (total_epochs)"))
      .add(ParamSpec::integer("max_steps").def(0).range(0, 1 << 30).describe("steps; 0 = epochs x rows / rollout_batch_size"))
      .add(ParamSpec::real("time_limit_minutes").def(0.0).range(0, 1e7).describe(
          "stop (and save) after this much training time; 0 = none"));
  // rollout
  s.add(ParamSpec::integer("n").def(5).range(1, 4096).describe("responses sampled per prompt (the group)"))
      .add(ParamSpec::real("temperature").def(1.0).range(1e-3, 100).describe(
          "sampling temperature; log-probs of the ratio and KL use logits / temperature"))
      .add(ParamSpec::real("top_p").def(0.99).range(0, 1).describe("nucleus sampling"))
      .add(ParamSpec::integer("top_k").def(0).range(0, 1 << 24).describe("0 = off"))
      .add(ParamSpec::integer("max_response_length").def(2048).range(1, 1 << 20).describe(
          "new tokens per response (capped by the model's max positions)"))
      .add(ParamSpec::integer("rollout_micro_batch").def(0).range(0, 1 << 20).describe(
          "sequences per generate call: whole groups while they fit, else pieces of one group (each group "
          "draws from its own stream, seeded from the seed, the step and the group); 0 = all of a rank's"));
  s.add(ParamSpec::plugin("reward", "reward").def(Json{{"plugin", "reward/tfq"}}).describe(
      "reward component: reward/tfq ((1-w) accuracy + w format, w = 0.5), reward/mcq, reward/length, reward/combine"));
  // objective
  s.add(ParamSpec::enumeration("adv_estimator", advantage_estimator_names()).def("grpo").describe(
       "grpo: (r - mean) / (std + 1e-6) per group; dr_grpo: r - mean; rloo: leave-one-out baseline; "
       "reinforce_plus_plus: whitened discounted returns"))
      .add(ParamSpec::real("gamma").def(1.0).range(0, 1).describe("discount of reinforce_plus_plus"))
      .add(ParamSpec::enumeration("advantage_mask", {"all", "answer"}).def("all").describe(
          "where the advantage applies: every response token, or only the token after the first <answer> "
          "(whatever was sampled there; the whole response when there is no <answer>)"))
      .add(ParamSpec::enumeration("kl_penalty", kl_penalty_names()).def("low_var_kl").describe(
          "kl, abs, mse, low_var_kl (k3 clamped to [-10, 10]), full = exact KL(ref||pi) over the vocabulary, "
          "full_reverse = exact KL(pi||ref)"))
      .add(ParamSpec::real("kl_coef").def(1e-2).range(0, 1e6).describe("0 = no reference model is loaded"))
      .add(ParamSpec::enumeration("kl_mode", {"loss", "reward"}).def("loss").describe(
          "add kl_coef x KL to the loss (use_kl_loss), or subtract it from the token rewards"))
      .add(ParamSpec::real("clip_ratio_low").def(0.2).range(0, 0.999).describe("ratio clipped below at 1 - low"))
      .add(ParamSpec::real("clip_ratio_high").def(0.3).range(0, 100).describe("ratio clipped above at 1 + high"))
      .add(ParamSpec::real("clip_ratio_dual").def(3.0).range(1, 1e6).describe("dual clip bound for negative advantages"))
      .add(ParamSpec::enumeration("loss_agg_mode", loss_aggregation_names()).def("token-mean").describe(
          "token-mean over the mini-batch, seq-mean-token-mean, seq-mean-token-sum-norm (Dr. GRPO, "
          "horizon max_response_length)"))
      .add(ParamSpec::real("entropy_coef").def(0.0).range(-1e3, 1e3).describe("loss -= coef x mean token entropy"));
  // updates
  s.add(ParamSpec::integer("global_batch_size").def(32).range(1, 1 << 20).describe(
       "prompts per optimizer update (x n sequences)"))
      .add(ParamSpec::integer("micro_batch_size_update").def(4).range(1, 1 << 20).describe(
          "sequences per forward/backward (gradient accumulation)"))
      .add(ParamSpec::integer("micro_batch_size_experience").def(8).range(1, 1 << 20).describe(
          "sequences per forward for old and reference log-probs"))
      .add(ParamSpec::integer("ppo_epochs").def(1).range(1, 1000).describe("passes over each rollout batch"))
      .add(ParamSpec::boolean("balance_batch").def(true).describe(
          "world_size > 1: share each mini-batch's sequences among the ranks by prompt + response tokens "
          "(equal counts, Karmarkar-Karp), not in consecutive slices"));
  add_optimizer_params(s, OptimizerDefaults{1e-6, "constant", 0.0, 1e-2});
  s.add(ParamSpec::boolean("dynamic_sampling").def(false).describe(
       "DAPO: drop groups whose rewards are all equal and sample more prompts until the batch is full"))
      .add(ParamSpec::integer("dynamic_sampling_max_tries").def(5).range(1, 1000).describe(
          "generation rounds per step before training on the groups kept so far"))
      .add(ParamSpec::real("sft_coef").def(0.0).range(0, 1e6).describe(
          "hybrid: add sft_coef x cross-entropy on expert rows (sft_data input, or data) to every update"))
      .add(ParamSpec::string("sft_file").def("sft.jsonl").describe("expert trajectories with a \"response\""))
      .add(ParamSpec::integer("sft_batch_size").def(8).range(1, 1 << 20).describe("expert rows per update"));
  add_run_params(s, 5);
  s.add(ParamSpec::integer("samples_per_log").def(4).range(0, 1 << 16).describe("groups written to samples.txt per log"))
      .add(ParamSpec::real("collapse_mixed_share").def(0.0).range(0, 1).describe(
          "stop early when the share of groups with differing rewards stays below this (0 = never)"))
      .add(ParamSpec::integer("collapse_patience").def(10).range(1, 1 << 20).describe(
          "consecutive steps below collapse_mixed_share before stopping"));
  add_validation_params(s);
  add_data_parallel_params(s);
  return s;
}

GrpoConfig grpo_config(const Params& p) {
  GrpoConfig c;
  c.file = p.get_string("file");
  c.levels = string_list(p.get("levels"));
  c.balance_answers = p.get_bool("balance_answers");
  c.literal_mix = level_mix(p);
  c.shuffle = p.get_bool("shuffle");
  c.max_prompt_length = p.get_int("max_prompt_length");
  c.rollout_batch_size = p.get_int("rollout_batch_size");
  c.epochs = p.get_int("epochs");
  c.max_steps = p.get_int("max_steps");
  c.time_limit_minutes = p.get_float("time_limit_minutes");
  c.n = p.get_int("n");
  c.temperature = p.get_float("temperature");
  c.top_p = p.get_float("top_p");
  c.top_k = p.get_int("top_k");
  c.max_response_length = p.get_int("max_response_length");
  c.rollout_micro_batch = p.get_int("rollout_micro_batch");
  c.estimator = advantage_estimator_from_string(p.get_string("adv_estimator"));
  c.gamma = p.get_float("gamma");
  c.answer_slot = p.get_string("advantage_mask") == "answer";
  c.kl_penalty = kl_penalty_from_string(p.get_string("kl_penalty"));
  c.kl_coef = p.get_float("kl_coef");
  c.kl_in_reward = p.get_string("kl_mode") == "reward";
  c.clip.low = p.get_float("clip_ratio_low");
  c.clip.high = p.get_float("clip_ratio_high");
  c.clip.dual = p.get_float("clip_ratio_dual");
  c.aggregation = loss_aggregation_from_string(p.get_string("loss_agg_mode"));
  c.entropy_coef = p.get_float("entropy_coef");
  c.global_batch_size = p.get_int("global_batch_size");
  c.micro_batch_update = p.get_int("micro_batch_size_update");
  c.micro_batch_experience = p.get_int("micro_batch_size_experience");
  c.ppo_epochs = p.get_int("ppo_epochs");
  c.balance_batch = p.get_bool("balance_batch");
  c.optim = optimizer_config(p);
  c.freeze_vision = p.get_bool("freeze_vision");
  c.dynamic_sampling = p.get_bool("dynamic_sampling");
  c.dynamic_max_tries = p.get_int("dynamic_sampling_max_tries");
  c.sft_coef = p.get_float("sft_coef");
  c.sft_file = p.get_string("sft_file");
  c.sft_batch_size = p.get_int("sft_batch_size");
  c.save_freq = p.get_int("save_freq");
  c.sample_freq = p.get_int("sample_freq");
  c.samples_per_log = p.get_int("samples_per_log");
  c.collapse_mixed_share = p.get_float("collapse_mixed_share");
  c.collapse_patience = p.get_int("collapse_patience");
  c.device = p.get_string("device");
  const int64_t world = p.get_int("world_size");
  if (world > c.rollout_batch_size)
    throw_bad_input("world_size " + std::to_string(world) + " is more than rollout_batch_size " +
                    std::to_string(c.rollout_batch_size) + ": every rank samples whole groups and needs at least one");
  if (c.n < 2 && (c.estimator == AdvantageEstimator::Grpo || c.estimator == AdvantageEstimator::Rloo))
    throw_bad_input("n = " + std::to_string(c.n) + ": grpo and rloo compare samples of a group and need n >= 2");
  return c;
}

}  // namespace mstar::algorithms
