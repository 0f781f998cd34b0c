// GRPO's experience: sampling, rewards, old and reference log-probs, advantages.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "grpo.h"
#include "mstar/data/answers.h"
#include "mstar/error.h"
#include "mstar/ml/sampling.h"

namespace mstar::algorithms {

namespace {

// Samples n responses to each prompt. Each group draws from a generator of
// its own (group_seed), so its samples do not depend on what else is
// sampled, nor where; many groups still share one batched forward
// (SamplingOptions::row_generators). A call holds at most
// `rollout_micro_batch` sequences: whole groups when they fit, else one
// piece of a group, cut at the same places whatever the rank count.
void sample(GrpoState& s, int64_t step, const std::vector<int64_t>& prompt_rows, int64_t first_group, Sampled& out) {
  const GrpoConfig& c = s.config;
  s.timer.start("sampling");
  const size_t before = out.rows.size();
  s.model.eval();
  const int64_t image_id = s.model.tokenizer().image_id();
  const auto n = static_cast<size_t>(c.n);
  const size_t call_max =
      c.rollout_micro_batch > 0 ? static_cast<size_t>(c.rollout_micro_batch) : std::numeric_limits<size_t>::max();
  const size_t piece = std::min(n, call_max);

  std::vector<size_t> row_prompt;  // the rows of the next call, by prompt index
  std::vector<torch::Generator> row_generator;
  const auto flush = [&] {
    if (row_prompt.empty()) return;
    std::vector<std::vector<int64_t>> prompts;
    std::vector<int64_t> images;
    for (size_t p : row_prompt) {
      const Example& ex = s.examples[static_cast<size_t>(prompt_rows[p])];
      prompts.push_back(ex.prompt);
      images.push_back(ex.image);
    }
    ml::Batch batch = ml::pad_batch(prompts, s.model.pad_token_id(), ml::PadSide::Left);
    s.images.fill(batch, images);  // a group's rows share their image's features
    ml::SamplingOptions options;
    options.max_new_tokens = s.max_new_tokens;
    options.temperature = c.temperature;
    options.top_p = c.top_p;
    options.top_k = c.top_k;
    options.row_generators = row_generator;  // handles: each group's stream advances over its calls
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
    for (size_t r = 0; r < row_prompt.size(); ++r) {
      const auto i = static_cast<int64_t>(r);
      const size_t p = row_prompt[r];
      std::vector<int64_t> ids(static_cast<size_t>(len[i]));
      for (int64_t j = 0; j < len[i]; ++j) ids[static_cast<size_t>(j)] = tok[i][j];
      if (!ids.empty() && ids.back() == image_id) ids.pop_back();
      out.rows.push_back(prompt_rows[p]);
      out.groups.push_back(first_group + static_cast<int64_t>(p));
      out.prompt_tokens += static_cast<int64_t>(prompts[r].size());
      out.response_tokens += static_cast<int64_t>(ids.size());
      out.responses.push_back(std::move(ids));
    }
    row_prompt.clear();
    row_generator.clear();
  };
  for (size_t p = 0; p < prompt_rows.size(); ++p) {
    const torch::Generator generator = ml::make_generator(group_seed(s.seed, step, first_group + static_cast<int64_t>(p)));
    for (size_t begin = 0; begin < n; begin += piece) {
      const size_t rows = std::min(n, begin + piece) - begin;
      if (row_prompt.size() + rows > call_max) flush();
      row_prompt.insert(row_prompt.end(), rows, p);
      row_generator.insert(row_generator.end(), rows, generator);
    }
  }
  flush();
  s.timer.start("reward");
  for (size_t i = before; i < out.rows.size(); ++i) {
    const Example& ex = s.examples[static_cast<size_t>(out.rows[i])];
    out.texts.push_back(s.model.decode_response(out.responses[i]));
    Json sample = ex.row.raw;
    sample["response_tokens"] = out.responses[i].size();
    out.rewards.push_back(s.reward.score(out.texts.back(), sample));
    out.scores.push_back(out.rewards.back().overall);
  }
  s.timer.stop();
}

// One round of sampling over the ranks: each samples its share of the
// prompts' groups; every rank gets the whole batch (`all`) and keeps its
// own sequences (`mine`: their texts and reward components) for the metrics.
void sample_round(GrpoState& s, int64_t step, const std::vector<int64_t>& prompt_rows, int64_t first_group,
                  Sampled& all, Sampled& mine) {
  const auto n = static_cast<size_t>(s.config.n);
  std::vector<int64_t> slots(prompt_rows.size());
  for (size_t p = 0; p < slots.size(); ++p) slots[p] = static_cast<int64_t>(p);
  const std::vector<int64_t> share = s.ranks.shard(slots);
  std::vector<int64_t> my_rows;
  for (int64_t p : share) my_rows.push_back(prompt_rows[static_cast<size_t>(p)]);
  const int64_t my_first = share.empty() ? 0 : share.front();
  sample(s, step, my_rows, first_group + my_first, mine);
  if (s.ranks.size() == 1) {
    all = mine;
    return;
  }
  s.timer.start("gather");
  for (size_t p = 0; p < prompt_rows.size(); ++p)
    for (size_t k = 0; k < n; ++k) {
      all.rows.push_back(prompt_rows[p]);
      all.groups.push_back(first_group + static_cast<int64_t>(p));
    }
  gather_sampled(s, mine, static_cast<size_t>(my_first) * n, all);
  s.timer.stop();
}

// Whether the rewards of the group starting at `begin` differ.
bool mixed_group(const Sampled& x, size_t begin, size_t n) { return scores_differ(x.scores, begin, n); }

// The first round's reward, length and answer statistics, summed over the
// sequences each rank sampled (`mine`) and then over ranks.
std::map<std::string, double> sampled_metrics(GrpoState& s, const Sampled& mine, double mixed_share) {
  std::map<std::string, double> m;
  double len_max = 0;
  std::map<std::string, double> parts;
  std::vector<double> sums(7, 0.0);  // count, sum, squares, lengths, clipped, said T, said T or F
  for (size_t i = 0; i < mine.scores.size(); ++i) {
    const auto len = static_cast<double>(mine.responses[i].size());
    const std::string said = data::tfq_reward_answer(mine.texts[i]);
    const bool t = data::answers_equal(said, "T"), f = data::answers_equal(said, "F");
    sums[0] += 1;
    sums[1] += mine.scores[i];
    sums[2] += mine.scores[i] * mine.scores[i];
    sums[3] += len;
    sums[4] += static_cast<int64_t>(len) >= s.max_new_tokens ? 1 : 0;
    sums[5] += t ? 1 : 0;
    sums[6] += (t || f) ? 1 : 0;
    len_max = std::max(len_max, len);
    for (const auto& [k, v] : mine.rewards[i].components) parts[k] += v;
  }
  // Every rank scores with the same reward, so the parts' names (and their
  // order in the map) agree; the count check turns a reward whose parts vary
  // from sample to sample into an error instead of a misaligned sum.
  for (const auto& [k, v] : parts) sums.push_back(v);
  if (s.ranks.size() > 1) {
    const double names = s.ranks.group().max(static_cast<double>(parts.size()));
    if (static_cast<double>(parts.size()) != names)
      throw Error(ErrorCategory::Internal, "rank " + std::to_string(s.ranks.rank()) + "'s rewards have " +
                                               std::to_string(parts.size()) + " components, another rank's " +
                                               std::to_string(static_cast<int64_t>(names)));
    sums = s.ranks.sum(sums);
    len_max = s.ranks.group().max(len_max);
    size_t j = 7;
    for (auto& [k, v] : parts) v = sums[j++];
  }
  const double count = std::max(1.0, sums[0]), mean = sums[1] / count;
  m[metric::kRewardMean] = mean;
  m[metric::kRewardStd] = sums[0] > 1 ? std::sqrt(std::max(0.0, (sums[2] - count * mean * mean) / (count - 1))) : 0.0;
  for (const auto& [k, v] : parts) m[metric::reward_part(k)] = v / count;
  // accuracy / format_rate: the reward's own parts, or a combined reward's first such part.
  for (const auto& [k, v] : parts) {
    const bool acc = k == "accuracy" || k.ends_with(".accuracy"), fmt = k == "format" || k.ends_with(".format");
    if (acc && !m.count(metric::kAccuracy)) m[metric::kAccuracy] = v / count;
    if (fmt && !m.count(metric::kFormatRate)) m[metric::kFormatRate] = v / count;
  }
  m[metric::kLengthMean] = sums[3] / count;
  m[metric::kLengthMax] = len_max;
  m[metric::kLengthClipped] = sums[4] / count;
  m[metric::kPTrue] = sums[6] > 0 ? sums[5] / sums[6] : 0.5;
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

// Log-probs under `model` ([N,R]) of the rollout's `rows` (the others stay
// 0), and the log-distributions ([N,R,V]) when asked.
void score_rollout(GrpoState& s, ml::Backbone& model, const Rollout& r, const std::vector<int64_t>& rows,
                   torch::Tensor& logprobs, torch::Tensor* log_dist) {
  torch::NoGradGuard no_grad;
  model.eval();
  const int64_t n = r.size(), width = r.width(), count = static_cast<int64_t>(rows.size());
  logprobs = torch::zeros({n, width}, torch::kFloat32);
  const auto chunk = std::max<int64_t>(1, s.config.micro_batch_experience);
  for (int64_t begin = 0; begin < count; begin += chunk) {
    const int64_t end = std::min(count, begin + chunk);
    std::vector<const std::vector<int64_t>*> prompts, responses;
    std::vector<int64_t> image_ids;
    for (int64_t j = begin; j < end; ++j) {
      const auto i = static_cast<size_t>(rows[static_cast<size_t>(j)]);
      const Example& ex = s.examples[static_cast<size_t>(r.rows[i])];
      prompts.push_back(&ex.prompt);
      responses.push_back(&r.responses[i]);
      image_ids.push_back(ex.image);
    }
    ml::SequenceBatch seq = pack_rows(prompts, responses, image_ids, s.images, model.pad_token_id());
    const int64_t w = seq.batch.width() - seq.prompt_width;
    if (w == 0) continue;
    ml::ScoreOptions options;
    options.temperature = s.config.temperature;
    options.log_distribution = log_dist != nullptr;
    ml::TokenScores sc = model.score(seq.batch, options);
    torch::Tensor lp = sc.logprobs.narrow(1, seq.prompt_width, w).cpu();
    torch::Tensor d = log_dist ? sc.log_distribution.narrow(1, seq.prompt_width, w).cpu() : torch::Tensor();
    if (log_dist && !log_dist->defined()) *log_dist = torch::zeros({n, width, d.size(2)}, torch::kFloat32);
    for (int64_t j = begin; j < end; ++j) {
      const int64_t i = rows[static_cast<size_t>(j)];
      logprobs[i].narrow(0, 0, w).copy_(lp[j - begin]);
      if (log_dist) (*log_dist)[i].narrow(0, 0, w).copy_(d[j - begin]);
    }
  }
}

}  // namespace

Rollout collect_rollout(GrpoState& s, int64_t step) {
  const GrpoConfig& c = s.config;
  const auto n = static_cast<size_t>(c.n);
  Sampled kept, first, first_mine;
  int64_t groups_kept = 0, next_group = 0;
  for (int64_t attempt = 0; attempt < (c.dynamic_sampling ? c.dynamic_max_tries : 1); ++attempt) {
    Sampled batch, mine;
    const std::vector<int64_t> prompt_rows = s.sampler.next(c.rollout_batch_size);
    sample_round(s, step, prompt_rows, next_group, batch, mine);
    next_group += static_cast<int64_t>(prompt_rows.size());
    if (attempt == 0) {
      first = batch;
      first_mine = std::move(mine);
    }
    kept.prompt_tokens += batch.prompt_tokens;
    kept.response_tokens += batch.response_tokens;
    for (size_t g = 0; g < prompt_rows.size() && groups_kept < c.rollout_batch_size; ++g) {
      if (c.dynamic_sampling && !mixed_group(batch, g * n, n)) continue;
      kept.append(batch, g * n, (g + 1) * n);
      ++groups_kept;
    }
    if (groups_kept >= c.rollout_batch_size) break;
  }
  Rollout r;
  r.mixed_share = trained_mixed_share(first.scores, n, c.literal_mix, c.rollout_batch_size);
  r.metrics = sampled_metrics(s, first_mine, r.mixed_share);
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
  r.minibatches = plan_minibatches(s, r);
  std::vector<int64_t> mine;  // this rank's rows of every mini-batch
  for (const MiniBatch& mb : r.minibatches) mine.insert(mine.end(), mb.rows.begin(), mb.rows.end());
  if (s.ranks.size() > 1) {
    // The widest gap between two ranks' prompt + response tokens in a mini-batch.
    double spread = 0;
    for (const MiniBatch& mb : r.minibatches) {
      double tokens = 0;
      for (int64_t i : mb.rows)
        tokens += static_cast<double>(s.examples[static_cast<size_t>(r.rows[static_cast<size_t>(i)])].prompt.size() +
                                      r.responses[static_cast<size_t>(i)].size());
      spread = std::max(spread, s.ranks.group().max(tokens) + s.ranks.group().max(-tokens));
    }
    r.metrics[metric::kRankTokenSpread] = spread;
  }

  // The full KL needs both distributions; the policy's is kept only to
  // report the KL of the rollout policy (exactly 0 against a fresh reference).
  // Rows of other ranks have zero log-probs on both sides: their KL is 0.
  const bool dist = s.reference && needs_distributions(c.kl_penalty);
  torch::Tensor old_log_dist, rollout_kl;
  s.timer.start("old_logprobs");
  score_rollout(s, s.model, r, mine, r.old_logprobs, dist ? &old_log_dist : nullptr);
  if (s.reference) {
    s.timer.start("ref_logprobs");
    score_rollout(s, *s.reference, r, mine, r.ref_logprobs, dist ? &r.ref_log_dist : nullptr);
    rollout_kl = !dist ? kl_estimate(r.old_logprobs, r.ref_logprobs, c.kl_penalty) * r.mask
                 : old_log_dist.defined() ? kl_full(old_log_dist, r.ref_log_dist, c.kl_penalty) * r.mask
                                          : torch::zeros_like(r.mask);  // this rank scored no tokens
    // KL in the reward enters every group's advantages: every rank needs every row's.
    if (s.ranks.size() > 1 && c.kl_in_reward) s.ranks.group().sum_tensors({rollout_kl});
    const double tokens = r.mask.to(torch::kFloat64).sum().item<double>();
    const double kl = rollout_kl.to(torch::kFloat64).sum().item<double>();
    r.metrics[metric::kKl] =
        tokens > 0 ? (s.ranks.size() > 1 && !c.kl_in_reward ? s.ranks.group().sum(kl) : kl) / tokens : 0.0;
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
  // Every rank holds the whole batch and computes the same advantages.
  r.advantages = c.estimator == AdvantageEstimator::ReinforcePlusPlus
                     ? token_advantages(token_rewards, r.mask, r.groups, c.estimator, c.gamma)
                     : group_advantages(totals, r.groups, c.estimator).unsqueeze(1) * r.mask;
  s.timer.stop();
  return r;
}

}  // namespace mstar::algorithms
