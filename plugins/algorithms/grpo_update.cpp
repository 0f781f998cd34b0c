// GRPO's policy update: mini-batches of global_batch_size prompts (x n
// sequences) in rollout order, micro-batches with gradient accumulation,
// ppo_epochs passes; the loss is the clipped policy loss, plus kl_coef x KL
// to the reference (kl_mode: loss), minus entropy_coef x entropy, plus the
// hybrid's sft_coef x cross-entropy on expert rows. With world_size > 1 each
// rank takes its rows of every mini-batch (Rollout::minibatches) over the
// whole mini-batch's denominators, and the gradients are summed before the
// update: the update of one rank on the whole mini-batch.
#include <algorithm>

#include "grpo.h"
#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

// Sums of a step's per-token statistics, turned into means at the end.
struct Totals {
  double pg_tokens = 0, tokens = 0;
  double clip_higher = 0, clip_lower = 0, ppo_kl = 0;  // over policy-gradient tokens
  double entropy = 0;                                    // over response tokens
  double pg_loss = 0, kl_loss = 0, loss = 0;             // per mini-batch, summed
  double grad_norm = 0, lr = 0, sft_loss = 0;
  int64_t updates = 0, skipped = 0;
};

torch::Tensor rows_of(const torch::Tensor& t, const torch::Tensor& rows, int64_t width) {
  return t.index_select(0, rows).narrow(1, 0, width);
}

}  // namespace

std::map<std::string, double> update_policy(GrpoState& s, const Rollout& r, Optimizer& optimizer,
                                            const SftBatches& sft) {
  const GrpoConfig& c = s.config;
  Totals t;
  s.timer.start("update");
  s.model.train();
  const int64_t micro = std::max<int64_t>(1, c.micro_batch_update);
  const auto horizon = static_cast<double>(s.max_new_tokens);
  const bool kl_in_loss = s.reference && !c.kl_in_reward;
  const bool full_kl = kl_in_loss && needs_distributions(c.kl_penalty);
  for (int64_t epoch = 0; epoch < c.ppo_epochs; ++epoch) {
    for (const MiniBatch& mb : r.minibatches) {
      const int64_t mb_begin = mb.begin, mb_end = mb.end, count = static_cast<int64_t>(mb.rows.size());
      const AggregationNorm pg_norm = aggregation_norm(r.pg_mask.narrow(0, mb_begin, mb_end - mb_begin), horizon);
      const AggregationNorm tok_norm = aggregation_norm(r.mask.narrow(0, mb_begin, mb_end - mb_begin), horizon);
      double pg_loss = 0, kl_loss = 0, loss_sum = 0;
      optimizer.zero_grad();
      for (int64_t begin = 0; begin < count; begin += micro) {
        const int64_t end = std::min(count, begin + micro);
        const std::vector<int64_t> ids(mb.rows.begin() + begin, mb.rows.begin() + end);
        const torch::Tensor rows = torch::tensor(ids, torch::kInt64);
        std::vector<const std::vector<int64_t>*> prompts, responses;
        std::vector<int64_t> image_ids;
        for (const int64_t i : ids) {
          const Example& ex = s.examples[static_cast<size_t>(r.rows[static_cast<size_t>(i)])];
          prompts.push_back(&ex.prompt);
          responses.push_back(&r.responses[static_cast<size_t>(i)]);
          image_ids.push_back(ex.image);
        }
        ml::SequenceBatch seq = pack_rows(prompts, responses, image_ids, s.images, s.model.pad_token_id());
        const int64_t pw = seq.prompt_width, w = seq.batch.width() - pw;
        if (w == 0) continue;
        ml::ScoreOptions options;
        options.temperature = c.temperature;
        options.entropies = true;
        options.log_distribution = full_kl;
        ml::TokenScores sc = s.model.score(seq.batch, options);
        const torch::Device dev = sc.logprobs.device();
        auto take = [&](const torch::Tensor& x) { return rows_of(x, rows, w).to(dev); };
        torch::Tensor logprobs = sc.logprobs.narrow(1, pw, w);
        torch::Tensor entropies = sc.entropies.narrow(1, pw, w);
        torch::Tensor mask = take(r.mask), pg_mask = take(r.pg_mask);

        PolicyLoss pl = policy_loss(logprobs, take(r.old_logprobs), take(r.advantages), c.clip);
        torch::Tensor pg = aggregate(pl.loss, pg_mask, c.aggregation, pg_norm);
        torch::Tensor loss = pg;
        if (kl_in_loss) {
          torch::Tensor kl = full_kl ? kl_full(sc.log_distribution.narrow(1, pw, w), take(r.ref_log_dist), c.kl_penalty)
                                     : kl_estimate(logprobs, take(r.ref_logprobs), c.kl_penalty);
          torch::Tensor kl_term = aggregate(kl, mask, c.aggregation, tok_norm);
          loss = loss + c.kl_coef * kl_term;
          kl_loss += kl_term.item<double>();
        }
        if (c.entropy_coef != 0) loss = loss - c.entropy_coef * aggregate(entropies, mask, c.aggregation, tok_norm);
        loss.backward();

        pg_loss += pg.item<double>();
        loss_sum += loss.item<double>();
        if (epoch == 0) {
          t.tokens += mask.sum().item<double>();
          t.pg_tokens += pg_mask.sum().item<double>();
          t.entropy += (entropies.detach() * mask).sum().item<double>();
          t.clip_higher += (pl.clipped_higher * pg_mask).sum().item<double>();
          t.clip_lower += (pl.clipped_lower * pg_mask).sum().item<double>();
          t.ppo_kl += (-pl.log_ratio.detach() * pg_mask).sum().item<double>();
        }
      }
      if (c.sft_coef > 0 && sft.examples) {
        // Every rank draws the same expert rows and trains on its slice, over the whole batch's tokens.
        const std::vector<int64_t> rows = sft.sampler->next(c.sft_batch_size);
        double tokens = 0;
        for (int64_t row : rows) tokens += static_cast<double>((*sft.examples)[static_cast<size_t>(row)].response.size());
        const SftLossStats st =
            sft_backward(s.model, *sft.examples, s.ranks.shard(rows), *sft.images, micro, c.sft_coef, tokens);
        t.sft_loss += st.loss;
        loss_sum += c.sft_coef * st.loss;
      }
      s.ranks.sum_gradients(s.model);
      const Optimizer::StepResult step = optimizer.step();
      t.grad_norm += step.grad_norm;
      t.lr = step.lr;
      t.skipped += step.skipped ? 1 : 0;
      t.pg_loss += pg_loss;
      t.kl_loss += kl_loss;
      t.loss += loss_sum;
      ++t.updates;
    }
  }
  s.timer.stop();
  if (s.ranks.size() > 1) {
    const std::vector<double> sum = s.ranks.sum(
        {t.pg_tokens, t.tokens, t.clip_higher, t.clip_lower, t.ppo_kl, t.entropy, t.pg_loss, t.kl_loss, t.loss, t.sft_loss});
    t.pg_tokens = sum[0], t.tokens = sum[1], t.clip_higher = sum[2], t.clip_lower = sum[3], t.ppo_kl = sum[4];
    t.entropy = sum[5], t.pg_loss = sum[6], t.kl_loss = sum[7], t.loss = sum[8], t.sft_loss = sum[9];
  }

  std::map<std::string, double> m;
  if (t.updates == 0) return m;
  const auto updates = static_cast<double>(t.updates);
  const double pg_tokens = std::max(1.0, t.pg_tokens), tokens = std::max(1.0, t.tokens);
  m[metric::kPgLoss] = t.pg_loss / updates;
  m[metric::kLoss] = t.loss / updates;
  m[metric::kGradNorm] = t.grad_norm / updates;
  m[metric::kLr] = t.lr;
  m[metric::kSkippedUpdates] = static_cast<double>(t.skipped);
  m[metric::kEntropy] = t.entropy / tokens;
  m[metric::kClipHigher] = t.clip_higher / pg_tokens;
  m[metric::kClipLower] = t.clip_lower / pg_tokens;
  m[metric::kPpoKl] = t.ppo_kl / pg_tokens;
  if (kl_in_loss) m[metric::kKlLoss] = t.kl_loss / updates;
  if (c.sft_coef > 0 && sft.examples) m[metric::kSftLoss] = t.sft_loss / updates;
  return m;
}

}  // namespace mstar::algorithms
