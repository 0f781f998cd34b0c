// Sampling options and results, and the per-token math shared by every
// backbone and by the trainers: log-probs and entropies of temperature-scaled
// distributions, top-k / top-p filtering, seeded sampling.
//
// Convention: log-probs and entropies always refer to the full distribution
// softmax(logits / temperature), before any top-k / top-p filtering. That is
// the distribution a trainer recomputes (GRPO's ratio uses logits divided by
// the rollout temperature), so sampled and recomputed log-probs agree.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

namespace mstar::ml {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  // Greedy decoding (argmax); also chosen by temperature == 0. Log-probs and
  // entropies are then those of the temperature-1 distribution.
  bool greedy = false;
  double temperature = 1.0;
  double top_p = 1.0;  // nucleus: smallest set whose probability reaches top_p
  int64_t top_k = 0;   // 0 = off
  // Tokens that end a sequence (included in its output). Empty: the
  // backbone's stop_token_ids().
  std::vector<int64_t> stop_token_ids = {};
  // Seed of a fresh generator for this call, unless `generator` is given:
  // then that generator is used and advanced (a trainer keeps one stream and
  // can checkpoint its state).
  uint64_t seed = 0;
  std::optional<torch::Generator> generator = std::nullopt;
  // Streams per row: when not empty (one handle per batch row), row i draws
  // from row_generators[i] and `generator` is not used. Rows may share a
  // handle, drawing in row order. A GRPO group keeps one stream that way
  // while many groups share one batched forward: its draws do not depend on
  // which groups sample beside it, nor on the rank that samples it.
  std::vector<torch::Generator> row_generators = {};
  bool compute_entropies = true;
};

// Generated continuations of a left-padded prompt batch. Width N is the
// number of decoding steps taken: max_new_tokens, or fewer when every
// sequence stopped early.
struct Generation {
  torch::Tensor tokens;     // [B, N] int64; pad id after a sequence ended
  torch::Tensor logprobs;   // [B, N] float32; 0 after the end
  torch::Tensor entropies;  // [B, N] float32 (undefined unless computed); 0 after the end
  torch::Tensor mask;       // [B, N] int64; 1 on generated tokens (stop token included)
  torch::Tensor lengths;    // [B] int64
};

// log softmax(logits / T)[target] over the last dimension.
// logits [..., V] (any float dtype), targets [...] int64 -> float32 [...].
torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets, double temperature = 1.0);

// Entropy of softmax(logits / T) over the last dimension -> float32 [...].
torch::Tensor token_entropies(const torch::Tensor& logits, double temperature = 1.0);

// Sets every logit outside the top-k / nucleus to -inf. logits [B, V].
torch::Tensor filter_logits(const torch::Tensor& logits, int64_t top_k, double top_p);

// One sampling step on next-token logits [B, V]: returns the chosen tokens
// [B] and fills `logprobs` / `entropies` ([B], float32; entropies only when
// requested). Draws from options.row_generators when set, else from
// `generator` (CPU generators; noise is moved to the logits' device).
torch::Tensor sample_next(const torch::Tensor& logits, const SamplingOptions& options, torch::Generator& generator,
                          torch::Tensor& logprobs, torch::Tensor* entropies);

// A CPU generator seeded with `seed`.
torch::Generator make_generator(uint64_t seed);

}  // namespace mstar::ml
