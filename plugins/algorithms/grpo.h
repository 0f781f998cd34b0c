// algorithm/grpo: GRPO as MetaphorStar's EasyR1 fork runs TFQ-GRPO, on an
// mstar backbone. Private to the plugin; the pieces:
//   grpo_params.cpp  the parameter schema (defaults = the TFQ run scripts) and GrpoConfig
//   grpo_rollout.cpp sampling, rewards, old/reference log-probs, advantages
//   grpo_update.cpp  mini-batch updates (policy loss, KL, entropy, hybrid SFT term)
//   grpo.cpp         the node: setup, the step loop, checkpoints, validation, metrics
//   grpo_ranks.cpp   data parallelism: gathering the ranks' groups, each rank's share of a mini-batch
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "data_parallel.h"
#include "examples.h"
#include "mstar/ml/backbone.h"
#include "mstar/params.h"
#include "mstar/reward.h"
#include "rl_math.h"
#include "supervised.h"
#include "trainer.h"

namespace mstar::algorithms {

struct GrpoConfig {
  // data
  std::string file;
  std::vector<std::string> levels;
  bool balance_answers = false;
  LevelMix literal_mix;  // examples.h
  bool shuffle = true;
  int64_t max_prompt_length = 0;
  int64_t rollout_batch_size = 64;  // prompts per step
  int64_t epochs = 5;
  int64_t max_steps = 0;            // 0 = epochs x (rows / rollout_batch_size)
  double time_limit_minutes = 0;    // 0 = none
  // rollout
  int64_t n = 5;
  double temperature = 1.0;
  double top_p = 0.99;
  int64_t top_k = 0;
  int64_t max_response_length = 2048;
  int64_t rollout_micro_batch = 0;  // sequences per generate call; 0 = all of a rank's
  // objective
  AdvantageEstimator estimator = AdvantageEstimator::Grpo;
  double gamma = 1.0;
  bool answer_slot = false;  // advantage_mask: answer
  KlPenalty kl_penalty = KlPenalty::LowVarKl;
  double kl_coef = 1e-2;
  bool kl_in_reward = false;
  ClipConfig clip;
  LossAggregation aggregation = LossAggregation::TokenMean;
  double entropy_coef = 0;
  // updates
  int64_t global_batch_size = 32;  // prompts per optimizer update
  int64_t micro_batch_update = 4;  // sequences per forward/backward
  int64_t micro_batch_experience = 8;
  int64_t ppo_epochs = 1;
  bool balance_batch = true;  // ranks share each mini-batch by token length
  OptimizerConfig optim;
  bool freeze_vision = false;
  bool dynamic_sampling = false;
  int64_t dynamic_max_tries = 5;
  double sft_coef = 0;
  std::string sft_file;
  int64_t sft_batch_size = 8;
  // bookkeeping
  int64_t save_freq = 5;
  int64_t sample_freq = 10;
  int64_t samples_per_log = 4;
  double collapse_mixed_share = 0;
  int64_t collapse_patience = 10;
  std::string device;

  bool uses_reference() const { return kl_coef > 0; }
};

ParamSchema grpo_param_schema();
GrpoConfig grpo_config(const Params& params);

// The sequences [begin, end) of the rollout that one optimizer update
// takes, and of them the rows this rank scores and trains on (ascending).
struct MiniBatch {
  int64_t begin = 0, end = 0;
  std::vector<int64_t> rows;
};

// One step's experience. Sequences are ordered by group (the n samples of
// a prompt are adjacent); response tensors are [N, R], R the longest response.
// Every rank holds the whole global batch (responses, scores, masks,
// advantages); log-probs are filled only for the rows of this rank's
// mini-batch shares.
struct Rollout {
  std::vector<int64_t> rows;    // example index per sequence
  std::vector<int64_t> groups;  // prompt slot per sequence
  std::vector<std::vector<int64_t>> responses;
  std::vector<std::string> texts;
  std::vector<RewardResult> rewards;  // components only for the groups this rank sampled
  std::vector<MiniBatch> minibatches;
  torch::Tensor scores;        // [N] float64: overall rewards
  torch::Tensor mask;          // [N,R] float32: response tokens
  torch::Tensor pg_mask;       // [N,R] float32: where the policy gradient applies
  torch::Tensor old_logprobs;  // [N,R]
  torch::Tensor ref_logprobs;  // [N,R] (with a reference)
  torch::Tensor ref_log_dist;  // [N,R,V] (full KL)
  torch::Tensor advantages;    // [N,R]
  int64_t prompt_tokens = 0, response_tokens = 0;  // everything sampled this step
  double mixed_share = 0;  // groups whose rewards differ, of the first sampled batch
  // Rewards, lengths, p(T), mixed groups of the first batch sampled this
  // step (before any dynamic-sampling filter: what the policy does).
  std::map<std::string, double> metrics;
  int64_t size() const { return static_cast<int64_t>(rows.size()); }
  int64_t width() const { return mask.defined() ? mask.size(1) : 0; }
};

// What the step loop hands to rollout and update code.
struct GrpoState {
  const GrpoConfig& config;
  ml::Backbone& model;
  ml::Backbone* reference;  // null without KL
  const RewardFunction& reward;
  const std::vector<Example>& examples;
  const ImageBank& images;
  BatchSampler& sampler;
  uint64_t seed;  // with the step and a group's index, the seed of that group's samples
  PhaseTimer& timer;
  int64_t max_new_tokens;  // max_response_length capped by the model's positions
  DataParallel& ranks;
};

// Samples rollout_batch_size prompts x n responses (more with dynamic
// sampling; each rank its share of the groups), scores them, computes old
// and reference log-probs and the advantages.
Rollout collect_rollout(GrpoState& s, int64_t step);

// ---- data parallelism (grpo_ranks.cpp) ----

// The seed of group `group` (its index among the step's sampled prompts,
// counted over every dynamic-sampling round) at `step`: the same whichever
// rank samples it, so results do not depend on the number of ranks.
uint64_t group_seed(uint64_t seed, int64_t step, int64_t group);

// Sequences sampled for some prompts (n per prompt, adjacent).
struct Sampled {
  std::vector<int64_t> rows, groups;
  std::vector<std::vector<int64_t>> responses;
  std::vector<std::string> texts;
  std::vector<RewardResult> rewards;
  std::vector<double> scores;
  int64_t prompt_tokens = 0, response_tokens = 0;

  void append(const Sampled& other, size_t begin, size_t end);
};

// The whole batch on every rank from each rank's `mine` (the sequences from
// `first` on of `all`, whose rows and groups are already set): responses
// and scores are summed over ranks into zero-filled buffers, texts of the
// other ranks' sequences decoded here, their rewards without components.
void gather_sampled(GrpoState& s, const Sampled& mine, size_t first, Sampled& all);

// Mini-batches of global_batch_size x n sequences in rollout order (the
// same at any world size) and this rank's rows of each: balanced by prompt
// + response tokens (balance_batch), else a contiguous slice.
std::vector<MiniBatch> plan_minibatches(const GrpoState& s, const Rollout& r);

struct SftBatches {
  const std::vector<Example>* examples = nullptr;
  BatchSampler* sampler = nullptr;
  const ImageBank* images = nullptr;
};

// ppo_epochs passes of mini-batch updates over the rollout; returns the
// step's update metrics (losses, KL, entropy, clip fractions, grad norm, lr).
std::map<std::string, double> update_policy(GrpoState& s, const Rollout& r, Optimizer& optimizer,
                                            const SftBatches& sft);

}  // namespace mstar::algorithms
