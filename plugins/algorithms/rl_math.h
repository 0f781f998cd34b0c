// The math of the policy-gradient trainers, free of models and data so that
// tests check it against hand-computed values: advantage estimators, the
// clipped policy loss, KL estimators, loss aggregation, the learning-rate
// schedule. Follows MetaphorStar's EasyR1/verl fork (verl/trainer/core_algos.py);
// where mstar departs from it, docs/algorithms.md says so.
//
// Shapes: N sequences, R response positions. Per-token tensors are [N,R]
// float32; masks are [N,R] (any dtype, 1 = counted).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace mstar::algorithms {

// ---- advantages -----------------------------------------------------------------

enum class AdvantageEstimator {
  Grpo,               // (r - mean) / (std + eps) per group, unbiased std
  DrGrpo,             // r - mean per group (no std division)
  Rloo,               // r - mean of the other samples of the group
  ReinforcePlusPlus,  // discounted returns whitened over the whole batch
};
AdvantageEstimator advantage_estimator_from_string(const std::string& name);  // throws BadInput
const std::vector<std::string>& advantage_estimator_names();

// Per-sequence advantages of outcome rewards. `scores` [N] (float64 or
// float32), `groups` the prompt index of each sequence. Groups of one
// sample are an error for GRPO and RLOO (the reference asserts n > 1); a
// group whose scores are all equal gets exactly 0. Returns float32 [N].
torch::Tensor group_advantages(const torch::Tensor& scores, const std::vector<int64_t>& groups,
                               AdvantageEstimator estimator, double eps = 1e-6);

// Token-level advantages as the reference computes them: outcome
// estimators sum `token_rewards` over each sequence, normalise per group and
// broadcast over `mask`; REINFORCE++ takes discounted returns (reset after
// the end of each sequence) and whitens them over every masked token of the
// batch (unbiased variance, 1e-8 inside the square root).
torch::Tensor token_advantages(const torch::Tensor& token_rewards, const torch::Tensor& mask,
                               const std::vector<int64_t>& groups, AdvantageEstimator estimator,
                               double gamma = 1.0, double eps = 1e-6);

// Token rewards: `scores` [N] placed on the last masked token of each row
// (the reference's reward tensor), zeros elsewhere.
torch::Tensor outcome_token_rewards(const torch::Tensor& scores, const torch::Tensor& mask);

// ---- policy loss -----------------------------------------------------------------

struct ClipConfig {
  double low = 0.2;   // clip_ratio_low
  double high = 0.3;  // clip_ratio_high
  double dual = 3.0;  // clip_ratio_dual: bound of -A * ratio for A < 0
};

struct PolicyLoss {
  torch::Tensor loss;            // [N,R] per-token loss, before aggregation
  torch::Tensor clipped_higher;  // [N,R] 1 where the ratio clip took effect
  torch::Tensor clipped_lower;   // [N,R] 1 where the dual clip took effect (A < 0)
  torch::Tensor log_ratio;       // [N,R] log pi - log pi_old (for ppo_kl = -mean)
};

// PPO's clipped objective with DAPO's asymmetric range and dual clip, the
// ratio clipped in log space (log ratio clamped to [log(1-low), log(1+high)]
// before exp; the unclipped log ratio clamped to +-20):
//   l1 = -A r, l2 = -A clip(r), l3 = -A dual
//   loss = A < 0 ? min(max(l1, l2), l3) : max(l1, l2)
PolicyLoss policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                       const torch::Tensor& advantages, const ClipConfig& clip);

// ---- KL -----------------------------------------------------------------------------

enum class KlPenalty {
  Kl,        // log pi - log ref (k1)
  Abs,       // |log pi - log ref|
  Mse,       // 0.5 (log pi - log ref)^2 (k2)
  LowVarKl,  // k3 = exp(ref - pi) - (ref - pi) - 1, difference clamped to +-20, result to [-10, 10]
  Full,      // exact KL(ref || pi) over the vocabulary, from both full distributions
  FullReverse,  // exact KL(pi || ref) over the vocabulary
};
KlPenalty kl_penalty_from_string(const std::string& name);  // throws BadInput
const std::vector<std::string>& kl_penalty_names();
bool needs_distributions(KlPenalty penalty);

// Per-token estimate from the sampled tokens' log-probs ([N,R]); not for Full.
torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, KlPenalty penalty);
// Exact KL per position from log-distributions [N,R,V]: Full gives
// sum_v ref_v (log ref_v - log pi_v), FullReverse sum_v pi_v (log pi_v - log ref_v).
torch::Tensor kl_full(const torch::Tensor& log_dist, const torch::Tensor& ref_log_dist, KlPenalty penalty);

// ---- aggregation ----------------------------------------------------------------------

enum class LossAggregation {
  TokenMean,            // sum over tokens / tokens of the mini-batch
  SeqMeanTokenMean,     // mean over sequences of each sequence's token mean
  SeqMeanTokenSumNorm,  // sum over tokens / (sequences x horizon) (Dr. GRPO)
};
LossAggregation loss_aggregation_from_string(const std::string& name);  // throws BadInput
const std::vector<std::string>& loss_aggregation_names();

// The denominators of a whole mini-batch, so that micro-batches add up to
// the mini-batch's loss (the reference's token-mean is over the mini-batch,
// not an average of micro-batch means).
struct AggregationNorm {
  double tokens = 0;   // masked tokens in the mini-batch
  double seqs = 0;     // sequences in the mini-batch
  double horizon = 1;  // SeqMeanTokenSumNorm: the fixed length (max response length)
};
AggregationNorm aggregation_norm(const torch::Tensor& mask, double horizon);

// The part of the mini-batch loss contributed by this micro-batch's rows.
torch::Tensor aggregate(const torch::Tensor& values, const torch::Tensor& mask, LossAggregation mode,
                        const AggregationNorm& norm);
// One batch on its own: aggregate(values, mask, mode, aggregation_norm(mask, horizon)).
torch::Tensor aggregate(const torch::Tensor& values, const torch::Tensor& mask, LossAggregation mode,
                        double horizon = 1);

// Mean of `values` over masked entries (0 when the mask is empty).
double masked_mean(const torch::Tensor& values, const torch::Tensor& mask);

// ---- learning rate --------------------------------------------------------------------

enum class LrSchedule { Constant, Cosine };
LrSchedule lr_schedule_from_string(const std::string& name);  // throws BadInput

struct LrScheduleConfig {
  double lr = 1e-6;
  LrSchedule schedule = LrSchedule::Constant;
  double warmup_ratio = 0.0;  // of the total updates
  double min_lr_ratio = 0.0;  // cosine floor, as a fraction of lr
};

// Learning rate of update `update` (0-based) out of `total` updates: linear
// warmup lr * (update + 1) / warmup over the first round(warmup_ratio *
// total) updates, then constant or a half cosine down to min_lr_ratio * lr.
double learning_rate(const LrScheduleConfig& config, int64_t update, int64_t total);

}  // namespace mstar::algorithms
