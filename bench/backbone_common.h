// Shared by backbone_bench and backbone_compare: batch shapes, timing,
// the GEMM yardstick, matmul FLOP counts and the bench's inputs.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"

namespace mstar::bench {

using namespace mstar::ml;

constexpr int64_t kTrainBatch = 32;
constexpr int64_t kSampleBatch = 64;
constexpr int64_t kNewTokens = 48;
constexpr int64_t kNoStop = 1 << 30;

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// CPU seconds of the process during the last time_median() runs, per run.
inline double g_last_cpu = 0;

// Median wall time of `reps` runs after one warm-up.
inline double time_median(int reps, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  const double c0 = process_cpu_seconds();
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(seconds_since(t0));
  }
  g_last_cpu = (process_cpu_seconds() - c0) / reps;
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

inline double gemm_rate(int64_t m, int64_t k, int64_t n) {
  torch::Tensor a = torch::randn({m, k}), b = torch::randn({k, n});
  const int reps = std::max<int64_t>(3, static_cast<int64_t>(2e9 / (2.0 * m * k * n)));
  double t = time_median(3, [&] {
    for (int i = 0; i < reps; ++i) torch::mm(a, b);
  });
  return 2.0 * m * k * n * reps / t;
}

// Matmul FLOPs of one forward pass, from config.json dims.
struct FlopModel {
  int64_t vd, vlayers, vf, td, tlayers, heads, kv, hd, tf, vocab, patches, image_tokens, patch_dim;
  bool qwen;
  explicit FlopModel(const Json& c) {
    const Json& v = c["vision_config"];
    const Json& t = c["text_config"];
    vd = v["hidden_size"];
    vlayers = v["num_hidden_layers"];
    vf = v["intermediate_size"];
    td = t["hidden_size"];
    tlayers = t["num_hidden_layers"];
    heads = t["num_attention_heads"];
    kv = t["num_key_value_heads"];
    hd = td / heads;
    tf = t["intermediate_size"];
    vocab = t["vocab_size"];
    const int64_t g = c["image_size"].get<int64_t>() / c["patch_size"].get<int64_t>();
    patches = g * g;
    patch_dim = 3 * c["patch_size"].get<int64_t>() * c["patch_size"].get<int64_t>();
    image_tokens = c["image_token_count"];
    qwen = c["family"] == "qwen";
  }
  double vision() const {  // one image
    const double n = qwen ? patches : patches + 1;
    const double mlp = qwen ? 6.0 * n * vd * vf : 4.0 * n * vd * vf;
    double f = 2.0 * patches * patch_dim * vd + vlayers * (2.0 * n * vd * 3 * vd + 4.0 * n * n * vd + 2.0 * n * vd * vd + mlp);
    if (qwen) f += 2.0 * image_tokens * (4.0 * vd) * (4.0 * vd) + 2.0 * image_tokens * 4.0 * vd * td;
    else f += 2.0 * patches * vd * td + 2.0 * patches * td * td;
    return f;
  }
  // `tokens` LM positions, each attending over `keys` keys, `logits` positions through the head.
  double lm(double tokens, double keys, double logits) const {
    const double per_token = 2.0 * td * (heads + 2 * kv) * hd + 2.0 * heads * hd * td + 6.0 * td * tf + 4.0 * keys * heads * hd;
    return tokens * tlayers * per_token + 2.0 * logits * td * vocab;
  }
};

inline std::string word(int i) {
  std::string w = "w";
  w += std::to_string(i);
  w += ' ';
  return w;
}

inline Tokenizer bench_tokenizer() {
  std::string text;
  for (int i = 0; i < 243; ++i) text += word(i);
  return Tokenizer::build({text, "T F ? ."});
}

inline std::string words(int n, int offset) {
  std::string s;
  for (int i = 0; i < n; ++i) s += word((i * 7 + offset) % 243);
  return s;
}

// The token of word i ("w<i>").
inline std::string word_token(int i) { return "w" + std::to_string(i); }

// Training batch: prompt (image + 12 words) + response (~30 tokens), no padding.
inline SequenceBatch train_batch(Backbone& model) {
  std::vector<std::vector<int64_t>> prompts, responses;
  for (int i = 0; i < kTrainBatch; ++i) {
    prompts.push_back(model.build_prompt("", words(12, i)));
    std::string response = "<think> ";
    response += words(22, i + 3);
    response += "</think> <answer> T </answer>";
    responses.push_back(model.encode_response(response));
  }
  SequenceBatch seq = pack_sequences(prompts, responses, model.pad_token_id());
  seq.batch.images = torch::rand({kTrainBatch, 3, model.image_size(), model.image_size()});
  return seq;
}

// `count` prompts with an image each, left-padded.
inline Batch sample_batch(Backbone& model, int64_t count) {
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < count; ++i) prompts.push_back(model.build_prompt("", words(12, i)));
  Batch batch = pad_batch(prompts, model.pad_token_id(), PadSide::Left);
  batch.images = torch::rand({count, 3, model.image_size(), model.image_size()});
  return batch;
}

}  // namespace mstar::bench
