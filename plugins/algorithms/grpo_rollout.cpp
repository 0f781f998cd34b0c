// GRPO's experience: sampling, rewards, old and reference log-probs, advantages.
#include <algorithm>
#include <cmath>
#include <optional>

#include "grpo.h"
#include "mstar/data/answers.h"
#include "mstar/error.h"
#include "mstar/ml/sampling.h"

namespace mstar::algorithms {

namespace {

// Sequences sampled for some prompts (n per prompt, adjacent).
struct Sampled {
  std::vector<int64_t> rows, groups;
  std::vector<std::vector<int64_t>> responses;
  std::vector<std::string> texts;
  std::vector<RewardResult> rewards;
  std::vector<double> scores;
  int64_t prompt_tokens = 0, response_tokens = 0;

  void append(const Sampled& other, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      rows.push_back(other.rows[i]);
      groups.push_back(other.groups[i]);
      responses.push_back(other.responses[i]);
      texts.push_back(other.texts[i]);
      rewards.push_back(other.rewards[i]);
      scores.push_back(other.scores[i]);
    }
  }
};

void sample(GrpoState& s, const std::vector<int64_t>& prompt_rows, int64_t first_group, Sampled& out) {
  const GrpoConfig& c = s.config;
  s.timer.start("sampling");
  for (size_t p = 0; p < prompt_rows.size(); ++p)
    for (int64_t k = 0; k < c.n; ++k) {
      out.rows.push_back(prompt_rows[p]);
      out.groups.push_back(first_group + static_cast<int64_t>(p));
    }
  const size_t total = out.rows.size();
  const size_t chunk = c.rollout_micro_batch > 0 ? static_cast<size_t>(c.rollout_micro_batch) : total;
  s.model.eval();
  const int64_t image_id = s.model.tokenizer().image_id();
  for (size_t begin = 0; begin < total; begin += chunk) {
    const size_t end = std::min(total, begin + chunk);
    std::vector<std::vector<int64_t>> prompts;
    std::vector<int64_t> image_ids;
    for (size_t i = begin; i < end; ++i) {
      const Example& ex = s.examples[static_cast<size_t>(out.rows[i])];
      prompts.push_back(ex.prompt);
      image_ids.push_back(ex.image);
      out.prompt_tokens += static_cast<int64_t>(ex.prompt.size());
    }
    ml::Batch batch = ml::pad_batch(prompts, s.model.pad_token_id(), ml::PadSide::Left);
    s.images.fill(batch, image_ids);  // a prompt's n samples share its image features
    ml::SamplingOptions options;
    options.max_new_tokens = s.max_new_tokens;
    options.temperature = c.temperature;
    options.top_p = c.top_p;
    options.top_k = c.top_k;
    options.generator = s.generator;  // a handle: the trainer's stream advances
    options.compute_entropies = false;
    // A sampled <image> would make the sequence unscorable (the backbone
    // expects image placeholders only where build_prompt put them): it ends
    // the response and is dropped from it.
    options.stop_token_ids = s.model.stop_token_ids();
    options.stop_token_ids.push_back(image_id);
    ml::Generation g = s.model.generate(batch, options);
    torch::Tensor tokens = g.tokens.cpu().contiguous(), lengths = g.lengths.cpu().contiguous();
    auto tok = tokens.accessor<int64_t, 2>();
    auto len = lengths.accessor<int64_t, 1>();
    for (int64_t i = 0; i < static_cast<int64_t>(end - begin); ++i) {
      std::vector<int64_t> ids(static_cast<size_t>(len[i]));
      for (int64_t j = 0; j < len[i]; ++j) ids[static_cast<size_t>(j)] = tok[i][j];
      if (!ids.empty() && ids.back() == image_id) ids.pop_back();
      out.response_tokens += static_cast<int64_t>(ids.size());
      out.responses.push_back(std::move(ids));
    }
  }
  s.timer.start("reward");
  for (size_t i = 0; i < total; ++i) {
    const Example& ex = s.examples[static_cast<size_t>(out.rows[i])];
    out.texts.push_back(s.model.decode_response(out.responses[i]));
    Json sample = ex.row.raw;
    sample["response_tokens"] = out.responses[i].size();
    out.rewards.push_back(s.reward.score(out.texts.back(), sample));
    out.scores.push_back(out.rewards.back().overall);
  }
  s.timer.stop();
}

// Whether the rewards of the group starting at `begin` differ.
bool mixed_group(const Sampled& x, size_t begin, size_t n) {
  for (size_t i = begin + 1; i < begin + n; ++i)
    if (x.scores[i] != x.scores[begin]) return true;
  return false;
}

std::map<std::string, double> sampled_metrics(const GrpoState& s, const Sampled& x, double mixed_share) {
  std::map<std::string, double> m;
  const auto count = static_cast<double>(x.scores.size());
  double sum = 0, sq = 0, len_sum = 0, len_max = 0, clipped = 0, said_t = 0, said_tf = 0;
  std::map<std::string, double> parts;
  for (size_t i = 0; i < x.scores.size(); ++i) {
    sum += x.scores[i];
    sq += x.scores[i] * x.scores[i];
    const auto len = static_cast<double>(x.responses[i].size());
    len_sum += len;
    len_max = std::max(len_max, len);
    clipped += static_cast<int64_t>(len) >= s.max_new_tokens ? 1 : 0;
    for (const auto& [k, v] : x.rewards[i].components) parts[k] += v;
    const std::string said = data::tfq_reward_answer(x.texts[i]);
    const bool t = data::answers_equal(said, "T"), f = data::answers_equal(said, "F");
    said_t += t ? 1 : 0;
    said_tf += (t || f) ? 1 : 0;
  }
  const double mean = sum / count;
  m[metric::kRewardMean] = mean;
  m[metric::kRewardStd] = count > 1 ? std::sqrt(std::max(0.0, (sq - count * mean * mean) / (count - 1))) : 0.0;
  for (const auto& [k, v] : parts) m[metric::reward_part(k)] = v / count;
  // accuracy / format_rate: the reward's own parts, or a combined reward's first such part.
  for (const auto& [k, v] : parts) {
    const bool acc = k == "accuracy" || k.ends_with(".accuracy"), fmt = k == "format" || k.ends_with(".format");
    if (acc && !m.count(metric::kAccuracy)) m[metric::kAccuracy] = v / count;
    if (fmt && !m.count(metric::kFormatRate)) m[metric::kFormatRate] = v / count;
  }
  m[metric::kLengthMean] = len_sum / count;
  m[metric::kLengthMax] = len_max;
  m[metric::kLengthClipped] = clipped / count;
  m[metric::kPTrue] = said_tf > 0 ? said_t / said_tf : 0.5;
  m[metric::kMixedGroups] = mixed_share;
  return m;
}

// The token after the first <answer> of each response, or the whole
// response when it has none.
torch::Tensor answer_slot_mask(const std::vector<std::vector<int64_t>>& responses, const torch::Tensor& mask,
                               std::optional<int64_t> answer_id) {
  torch::Tensor out = mask.clone();
  if (!answer_id) return out;
  auto o = out.accessor<float, 2>();
  for (size_t i = 0; i < responses.size(); ++i) {
    const auto& r = responses[i];
    auto it = std::find(r.begin(), r.end(), *answer_id);
    if (it == r.end() || it + 1 == r.end()) continue;
    const auto slot = static_cast<int64_t>(it - r.begin()) + 1;
    for (int64_t j = 0; j < out.size(1); ++j) o[static_cast<int64_t>(i)][j] = j == slot ? 1.0f : 0.0f;
  }
  return out;
}

// Log-probs of the rollout's responses under `model` ([N,R]), and the
// log-distributions ([N,R,V]) when asked.
void score_rollout(GrpoState& s, ml::Backbone& model, const Rollout& r, torch::Tensor& logprobs,
                   torch::Tensor* log_dist) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = r.size(), width = r.width();
  logprobs = torch::zeros({n, width}, torch::kFloat32);
  const auto chunk = std::max<int64_t>(1, s.config.micro_batch_experience);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    std::vector<const std::vector<int64_t>*> prompts, responses;
    std::vector<int64_t> image_ids;
    for (int64_t i = begin; i < end; ++i) {
      const Example& ex = s.examples[static_cast<size_t>(r.rows[static_cast<size_t>(i)])];
      prompts.push_back(&ex.prompt);
      responses.push_back(&r.responses[static_cast<size_t>(i)]);
      image_ids.push_back(ex.image);
    }
    ml::SequenceBatch seq = pack_rows(prompts, responses, image_ids, s.images, model.pad_token_id());
    const int64_t w = seq.batch.width() - seq.prompt_width;
    if (w == 0) continue;
    ml::ScoreOptions options;
    options.temperature = s.config.temperature;
    options.log_distribution = log_dist != nullptr;
    ml::TokenScores sc = model.score(seq.batch, options);
    logprobs.narrow(0, begin, end - begin).narrow(1, 0, w).copy_(sc.logprobs.narrow(1, seq.prompt_width, w).cpu());
    if (!log_dist) continue;
    torch::Tensor d = sc.log_distribution.narrow(1, seq.prompt_width, w).cpu();
    if (!log_dist->defined()) *log_dist = torch::zeros({n, width, d.size(2)}, torch::kFloat32);
    log_dist->narrow(0, begin, end - begin).narrow(1, 0, w).copy_(d);
  }
}

}  // namespace

Rollout collect_rollout(GrpoState& s) {
  const GrpoConfig& c = s.config;
  const auto n = static_cast<size_t>(c.n);
  Sampled kept, first;
  int64_t groups_kept = 0, next_group = 0;
  for (int64_t attempt = 0; attempt < (c.dynamic_sampling ? c.dynamic_max_tries : 1); ++attempt) {
    Sampled batch;
    const std::vector<int64_t> prompt_rows = s.sampler.next(c.rollout_batch_size);
    sample(s, prompt_rows, next_group, batch);
    next_group += static_cast<int64_t>(prompt_rows.size());
    if (attempt == 0) first = batch;
    kept.prompt_tokens += batch.prompt_tokens;
    kept.response_tokens += batch.response_tokens;
    for (size_t g = 0; g < prompt_rows.size() && groups_kept < c.rollout_batch_size; ++g) {
      if (c.dynamic_sampling && !mixed_group(batch, g * n, n)) continue;
      kept.append(batch, g * n, (g + 1) * n);
      ++groups_kept;
    }
    if (groups_kept >= c.rollout_batch_size) break;
  }
  int64_t mixed = 0;
  for (size_t g = 0; g * n < first.scores.size(); ++g) mixed += mixed_group(first, g * n, n) ? 1 : 0;

  Rollout r;
  r.mixed_share = static_cast<double>(mixed) / static_cast<double>(first.scores.size() / n);
  r.metrics = sampled_metrics(s, first, r.mixed_share);
  if (c.dynamic_sampling) r.metrics[metric::kKeptGroups] = static_cast<double>(groups_kept);
  r.prompt_tokens = kept.prompt_tokens;
  r.response_tokens = kept.response_tokens;
  r.rows = std::move(kept.rows);
  r.groups = std::move(kept.groups);
  r.responses = std::move(kept.responses);
  r.texts = std::move(kept.texts);
  r.rewards = std::move(kept.rewards);
  if (r.rows.empty()) return r;

  int64_t width = 1;
  for (const auto& resp : r.responses) width = std::max<int64_t>(width, static_cast<int64_t>(resp.size()));
  r.mask = torch::zeros({r.size(), width}, torch::kFloat32);
  for (int64_t i = 0; i < r.size(); ++i)
    r.mask[i].narrow(0, 0, static_cast<int64_t>(r.responses[static_cast<size_t>(i)].size())).fill_(1.0f);
  r.scores = torch::tensor(kept.scores, torch::kFloat64);
  r.pg_mask = c.answer_slot ? answer_slot_mask(r.responses, r.mask, s.model.tokenizer().find(ml::tokens::kAnswer))
                            : r.mask;

  // The full KL needs both distributions; the policy's is kept only to
  // report the KL of the rollout policy (exactly 0 against a fresh reference).
  const bool dist = s.reference && needs_distributions(c.kl_penalty);
  torch::Tensor old_log_dist, rollout_kl;
  s.timer.start("old_logprobs");
  score_rollout(s, s.model, r, r.old_logprobs, dist ? &old_log_dist : nullptr);
  if (s.reference) {
    s.timer.start("ref_logprobs");
    score_rollout(s, *s.reference, r, r.ref_logprobs, dist ? &r.ref_log_dist : nullptr);
    rollout_kl = (dist ? kl_full(old_log_dist, r.ref_log_dist, c.kl_penalty)
                       : kl_estimate(r.old_logprobs, r.ref_logprobs, c.kl_penalty)) * r.mask;
    r.metrics[metric::kKl] = masked_mean(rollout_kl, r.mask);
  }
  s.timer.start("advantage");
  torch::Tensor token_rewards = outcome_token_rewards(r.scores, r.mask);
  torch::Tensor totals = r.scores.clone();  // float64: equal rewards stay exactly equal
  if (s.reference && c.kl_in_reward) {
    token_rewards = token_rewards - c.kl_coef * rollout_kl;
    totals = totals - c.kl_coef * rollout_kl.sum(-1).to(torch::kFloat64);
  }
  // Outcome estimators take each sequence's total reward (the scores
  // themselves, so that an empty response keeps its reward), normalised per
  // group and put on every response token; REINFORCE++ takes the token rewards.
  r.advantages = c.estimator == AdvantageEstimator::ReinforcePlusPlus
                     ? token_advantages(token_rewards, r.mask, r.groups, c.estimator, c.gamma)
                     : group_advantages(totals, r.groups, c.estimator).unsqueeze(1) * r.mask;
  s.timer.stop();
  return r;
}

}  // namespace mstar::algorithms
