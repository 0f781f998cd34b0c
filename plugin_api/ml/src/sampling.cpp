#include "mstar/ml/sampling.h"

#include <limits>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace mstar::ml {

namespace {

torch::Tensor scaled(const torch::Tensor& logits, double temperature) {
  torch::Tensor x = logits.to(torch::kFloat32);
  if (temperature != 1.0) x = x / temperature;
  return x;
}

}  // namespace

torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets, double temperature) {
  torch::Tensor x = scaled(logits, temperature);
  // gather - logsumexp: never materialises the [.., V] log-softmax.
  return x.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - x.logsumexp(-1);
}

torch::Tensor token_entropies(const torch::Tensor& logits, double temperature) {
  torch::Tensor x = scaled(logits, temperature);
  torch::Tensor lse = x.logsumexp(-1, /*keepdim=*/true);
  torch::Tensor p = (x - lse).exp();
  return (lse.squeeze(-1) - (p * x).sum(-1));
}

torch::Tensor filter_logits(const torch::Tensor& logits, int64_t top_k, double top_p) {
  torch::Tensor x = logits;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  if (top_k > 0 && top_k < x.size(-1)) {
    torch::Tensor kth = std::get<0>(x.topk(top_k, -1)).narrow(-1, top_k - 1, 1);
    x = x.masked_fill(x < kth, neg_inf);
  }
  if (top_p < 1.0) {
    auto [sorted, order] = x.sort(-1, /*descending=*/true);
    torch::Tensor probs = sorted.softmax(-1);
    // Drop a token when the tokens ranked above it already reach top_p; the
    // most likely token always stays.
    torch::Tensor above = probs.cumsum(-1) - probs;
    torch::Tensor drop_sorted = above > top_p;
    torch::Tensor drop = torch::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    x = x.masked_fill(drop, neg_inf);
  }
  return x;
}

torch::Tensor sample_next(const torch::Tensor& logits, const SamplingOptions& options, torch::Generator& generator,
                          torch::Tensor& logprobs, torch::Tensor* entropies) {
  const bool greedy = options.greedy || options.temperature <= 0.0;
  const double temperature = greedy ? 1.0 : options.temperature;
  torch::Tensor x = scaled(logits, temperature);
  torch::Tensor lse = x.logsumexp(-1, /*keepdim=*/true);
  torch::Tensor chosen;
  if (greedy) {
    chosen = x.argmax(-1);
  } else {
    torch::Tensor filtered = (options.top_k > 0 || options.top_p < 1.0) ? filter_logits(x, options.top_k, options.top_p) : x;
    // Exponential race: argmax p_i / E_i with E_i ~ Exp(1) draws i with
    // probability p_i (the same as multinomial, one kernel fewer).
    torch::Tensor probs = filtered.softmax(-1);
    torch::Tensor noise = torch::empty(probs.sizes(), torch::TensorOptions().dtype(torch::kFloat32));
    if (options.row_generators.empty()) {
      noise.exponential_(1.0, generator);
    } else {
      for (int64_t i = 0; i < noise.size(0); ++i) {
        torch::Generator row = options.row_generators[static_cast<size_t>(i)];
        noise[i].exponential_(1.0, row);
      }
    }
    noise.clamp_min_(std::numeric_limits<float>::min());  // 0 would turn a filtered 0/0 into NaN
    if (noise.device() != probs.device()) noise = noise.to(probs.device());
    chosen = (probs / noise).argmax(-1);
  }
  logprobs = x.gather(-1, chosen.unsqueeze(-1)).squeeze(-1) - lse.squeeze(-1);
  if (entropies) {
    torch::Tensor p = (x - lse).exp();
    *entropies = lse.squeeze(-1) - (p * x).sum(-1);
  }
  return chosen;
}

torch::Generator make_generator(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

}  // namespace mstar::ml
