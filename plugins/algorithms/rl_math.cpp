#include "rl_math.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include <torch/torch.h>

#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

template <class Enum>
Enum from_names(const std::string& name, const std::vector<std::string>& names, const char* what) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<Enum>(i);
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  throw_bad_input(std::string("unknown ") + what + " '" + name + "' (expected one of " + known + ")");
}

torch::Tensor as_float(const torch::Tensor& t, const torch::Tensor& like) { return t.to(like.scalar_type()); }

}  // namespace

// ---- advantages -----------------------------------------------------------------

const std::vector<std::string>& advantage_estimator_names() {
  static const std::vector<std::string> names = {"grpo", "dr_grpo", "rloo", "reinforce_plus_plus"};
  return names;
}

AdvantageEstimator advantage_estimator_from_string(const std::string& name) {
  return from_names<AdvantageEstimator>(name, advantage_estimator_names(), "advantage estimator");
}

torch::Tensor group_advantages(const torch::Tensor& scores, const std::vector<int64_t>& groups,
                               AdvantageEstimator estimator, double eps) {
  const torch::Tensor s = scores.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const int64_t n = s.size(0);
  if (static_cast<int64_t>(groups.size()) != n)
    throw_bad_input("group_advantages: " + std::to_string(n) + " scores but " + std::to_string(groups.size()) +
                    " group ids");
  if (estimator == AdvantageEstimator::ReinforcePlusPlus)
    throw_bad_input("group_advantages: reinforce_plus_plus has no per-group form (use token_advantages)");
  const double* v = s.data_ptr<double>();
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < n; ++i) members[groups[static_cast<size_t>(i)]].push_back(i);
  std::vector<float> out(static_cast<size_t>(n), 0.0f);
  for (const auto& [group, rows] : members) {
    const auto count = static_cast<double>(rows.size());
    if (rows.size() < 2 && estimator != AdvantageEstimator::DrGrpo)
      throw_bad_input("group_advantages: group " + std::to_string(group) + " has one sample; " +
                      advantage_estimator_names()[static_cast<size_t>(estimator)] + " needs n > 1");
    double sum = 0;
    bool all_equal = true;
    for (int64_t r : rows) {
      sum += v[r];
      all_equal = all_equal && v[r] == v[rows.front()];
    }
    if (all_equal) continue;  // exactly 0, whatever rounding the mean has
    const double mean = sum / count;
    double sq = 0;
    for (int64_t r : rows) sq += (v[r] - mean) * (v[r] - mean);
    const double std_unbiased = std::sqrt(sq / (count - 1));
    for (int64_t r : rows) {
      double a = 0;
      switch (estimator) {
        case AdvantageEstimator::Grpo: a = (v[r] - mean) / (std_unbiased + eps); break;
        case AdvantageEstimator::DrGrpo: a = v[r] - mean; break;
        case AdvantageEstimator::Rloo: a = v[r] - (sum - v[r]) / (count - 1); break;
        case AdvantageEstimator::ReinforcePlusPlus: break;
      }
      out[static_cast<size_t>(r)] = static_cast<float>(a);
    }
  }
  return torch::tensor(out, torch::kFloat32);
}

torch::Tensor outcome_token_rewards(const torch::Tensor& scores, const torch::Tensor& mask) {
  const torch::Tensor m = mask.to(torch::kFloat32);
  const int64_t width = m.size(1);
  torch::Tensor positions = torch::arange(width, m.options()).unsqueeze(0).expand_as(m);
  // Last masked column per row (rows without any masked token get nothing).
  torch::Tensor last = (positions * m + (m - 1) * 1e9).argmax(1);
  torch::Tensor out = torch::zeros_like(m);
  torch::Tensor has = m.sum(1) > 0;
  out.scatter_(1, last.unsqueeze(1), (scores.to(torch::kFloat32) * has.to(torch::kFloat32)).unsqueeze(1));
  return out;
}

torch::Tensor token_advantages(const torch::Tensor& token_rewards, const torch::Tensor& mask,
                               const std::vector<int64_t>& groups, AdvantageEstimator estimator, double gamma,
                               double eps) {
  const torch::Tensor m = mask.to(torch::kFloat32);
  const torch::Tensor r = token_rewards.to(torch::kFloat32);
  if (estimator != AdvantageEstimator::ReinforcePlusPlus) {
    torch::Tensor adv = group_advantages(r.sum(-1), groups, estimator, eps);
    return adv.unsqueeze(1) * m;
  }
  torch::Tensor returns = torch::zeros_like(r);
  torch::Tensor running = torch::zeros({r.size(0)}, r.options());
  for (int64_t t = r.size(1) - 1; t >= 0; --t) {
    running = r.select(1, t) + gamma * running;
    returns.select(1, t).copy_(running);
    running = running * m.select(1, t);  // reset after the end of the sequence
  }
  const double count = m.sum().item<double>();
  if (count < 2) return torch::zeros_like(r);
  const torch::Tensor mean = (returns * m).sum() / count;
  const torch::Tensor var = ((returns - mean).square() * m).sum() / count * (count / (count - 1));
  return (returns - mean) * torch::rsqrt(var + 1e-8) * m;
}

// ---- policy loss -----------------------------------------------------------------

PolicyLoss policy_loss(const torch::Tensor& logprobs, const torch::Tensor& old_logprobs,
                       const torch::Tensor& advantages, const ClipConfig& clip) {
  if (clip.low < 0 || clip.low >= 1 || clip.high < 0)
    throw_bad_input("policy_loss: need 0 <= clip_ratio_low < 1 and clip_ratio_high >= 0");
  PolicyLoss out;
  out.log_ratio = logprobs - old_logprobs;
  const torch::Tensor ratio = torch::exp(out.log_ratio.clamp(-20.0, 20.0));
  const torch::Tensor clipped = torch::exp(out.log_ratio.clamp(std::log(1.0 - clip.low), std::log(1.0 + clip.high)));
  const torch::Tensor l1 = -advantages * ratio;
  const torch::Tensor l2 = -advantages * clipped;
  const torch::Tensor l3 = -advantages * clip.dual;
  const torch::Tensor higher = torch::max(l1, l2);
  const torch::Tensor negative = advantages < 0;
  out.clipped_higher = (l1 < l2).to(torch::kFloat32).detach();
  out.loss = torch::where(negative, torch::min(higher, l3), higher);
  out.clipped_lower = ((higher > l3) & negative).to(torch::kFloat32).detach();
  return out;
}

// ---- KL -----------------------------------------------------------------------------

const std::vector<std::string>& kl_penalty_names() {
  static const std::vector<std::string> names = {"kl", "abs", "mse", "low_var_kl", "full", "full_reverse"};
  return names;
}

KlPenalty kl_penalty_from_string(const std::string& name) {
  return from_names<KlPenalty>(name, kl_penalty_names(), "kl_penalty");
}

bool needs_distributions(KlPenalty penalty) { return penalty == KlPenalty::Full || penalty == KlPenalty::FullReverse; }

torch::Tensor kl_estimate(const torch::Tensor& logprobs, const torch::Tensor& ref_logprobs, KlPenalty penalty) {
  const torch::Tensor lp = logprobs.to(torch::kFloat32), ref = ref_logprobs.to(torch::kFloat32);
  switch (penalty) {
    case KlPenalty::Kl: return lp - ref;
    case KlPenalty::Abs: return (lp - ref).abs();
    case KlPenalty::Mse: return 0.5 * (lp - ref).square();
    case KlPenalty::LowVarKl: {
      const torch::Tensor d = (ref - lp).clamp(-20.0, 20.0);
      return (d.exp() - d - 1).clamp(-10.0, 10.0);
    }
    case KlPenalty::Full:
    case KlPenalty::FullReverse: break;
  }
  throw_bad_input("kl_estimate: full KL needs the log-distributions (kl_full)");
}

torch::Tensor kl_full(const torch::Tensor& log_dist, const torch::Tensor& ref_log_dist, KlPenalty penalty) {
  const torch::Tensor lp = log_dist.to(torch::kFloat32), ref = ref_log_dist.to(torch::kFloat32);
  if (penalty == KlPenalty::Full) return (ref.exp() * (ref - lp)).sum(-1);
  if (penalty == KlPenalty::FullReverse) return (lp.exp() * (lp - ref)).sum(-1);
  throw_bad_input("kl_full: only for kl_penalty full or full_reverse");
}

// ---- aggregation ----------------------------------------------------------------------

const std::vector<std::string>& loss_aggregation_names() {
  static const std::vector<std::string> names = {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"};
  return names;
}

LossAggregation loss_aggregation_from_string(const std::string& name) {
  return from_names<LossAggregation>(name, loss_aggregation_names(), "loss_agg_mode");
}

AggregationNorm aggregation_norm(const torch::Tensor& mask, double horizon) {
  AggregationNorm n;
  n.tokens = mask.to(torch::kFloat64).sum().item<double>();
  n.seqs = static_cast<double>(mask.size(0));
  n.horizon = horizon;
  return n;
}

torch::Tensor aggregate(const torch::Tensor& values, const torch::Tensor& mask, LossAggregation mode,
                        const AggregationNorm& norm) {
  const torch::Tensor m = as_float(mask, values);
  const torch::Tensor masked = values * m;
  switch (mode) {
    case LossAggregation::TokenMean: return masked.sum() / std::max(norm.tokens, 1e-8);
    case LossAggregation::SeqMeanTokenMean:
      return (masked.sum(-1) / m.sum(-1).clamp_min(1.0)).sum() / std::max(norm.seqs, 1.0);
    case LossAggregation::SeqMeanTokenSumNorm:
      return masked.sum() / (std::max(norm.seqs, 1.0) * std::max(norm.horizon, 1e-8));
  }
  throw Error(ErrorCategory::Internal, "aggregate: unknown mode");
}

torch::Tensor aggregate(const torch::Tensor& values, const torch::Tensor& mask, LossAggregation mode, double horizon) {
  return aggregate(values, mask, mode, aggregation_norm(mask, horizon));
}

double masked_mean(const torch::Tensor& values, const torch::Tensor& mask) {
  const torch::Tensor m = mask.to(torch::kFloat64);
  const double count = m.sum().item<double>();
  if (count <= 0) return 0.0;
  return (values.detach().to(torch::kFloat64) * m).sum().item<double>() / count;
}

// ---- learning rate --------------------------------------------------------------------

LrSchedule lr_schedule_from_string(const std::string& name) {
  static const std::vector<std::string> names = {"constant", "cosine"};
  return from_names<LrSchedule>(name, names, "lr_schedule");
}

double learning_rate(const LrScheduleConfig& config, int64_t update, int64_t total) {
  const int64_t warmup = static_cast<int64_t>(config.warmup_ratio * static_cast<double>(total));
  if (update < warmup) return config.lr * static_cast<double>(update + 1) / static_cast<double>(warmup);
  if (config.schedule == LrSchedule::Constant) return config.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double progress = std::clamp(static_cast<double>(update - warmup) / span, 0.0, 1.0);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return config.lr * (config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine);
}

}  // namespace mstar::algorithms
