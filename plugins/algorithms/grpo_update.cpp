// GRPO's policy update: mini-batches of global_batch_size prompts (x n
// sequences) in rollout order, micro-batches with gradient accumulation,
// ppo_epochs passes; the loss is the clipped policy loss, plus kl_coef x KL
// to the reference (kl_mode: loss), minus entropy_coef x entropy, plus the
// hybrid's sft_coef x cross-entropy on expert rows.
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

torch::Tensor rows_of(const torch::Tensor& t, int64_t begin, int64_t end, int64_t width) {
  return t.narrow(0, begin, end - begin).narrow(1, 0, width);
}

}  // namespace

std::map<std::string, double> update_policy(GrpoState& s, const Rollout& r, Optimizer& optimizer,
                                            const SftBatches& sft) {
  const GrpoConfig& c = s.config;
  Totals t;
  s.timer.start("update");
  s.model.train();
  const int64_t n = r.size();
  const int64_t mini = std::max<int64_t>(1, c.global_batch_size * c.n);
  const int64_t micro = std::max<int64_t>(1, c.micro_batch_update);
  const auto horizon = static_cast<double>(s.max_new_tokens);
  const bool kl_in_loss = s.reference && !c.kl_in_reward;
  const bool full_kl = kl_in_loss && needs_distributions(c.kl_penalty);
  for (int64_t epoch = 0; epoch < c.ppo_epochs; ++epoch) {
    for (int64_t mb_begin = 0; mb_begin < n; mb_begin += mini) {
      const int64_t mb_end = std::min(n, mb_begin + mini);
      const AggregationNorm pg_norm = aggregation_norm(r.pg_mask.narrow(0, mb_begin, mb_end - mb_begin), horizon);
      const AggregationNorm tok_norm = aggregation_norm(r.mask.narrow(0, mb_begin, mb_end - mb_begin), horizon);
      double pg_loss = 0, kl_loss = 0, loss_sum = 0;
      optimizer.zero_grad();
      for (int64_t begin = mb_begin; begin < mb_end; begin += micro) {
        const int64_t end = std::min(mb_end, begin + micro);
        std::vector<const std::vector<int64_t>*> prompts, responses;
        std::vector<int64_t> image_ids;
        for (int64_t i = begin; i < end; ++i) {
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
        auto take = [&](const torch::Tensor& x) { return rows_of(x, begin, end, w).to(dev); };
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
        const std::vector<int64_t> rows = sft.sampler->next(c.sft_batch_size);
        const SftLossStats st = sft_backward(s.model, *sft.examples, rows, *sft.images, micro, c.sft_coef);
        t.sft_loss += st.loss;
        loss_sum += c.sft_coef * st.loss;
      }
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
