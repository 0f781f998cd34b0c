// Batched generation for benchmarks: a backbone answers many prompts, n
// samples each, through its KV-cached generate(), with progress lines in
// the node's log. Private to the benchmarks plugin.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/data/rows.h"
#include "mstar/ml/backbone.h"
#include "mstar/node.h"
#include "mstar/params.h"

namespace mstar::bench {

struct DecodeOptions {
  int64_t max_new_tokens = 128;
  bool greedy = false;
  double temperature = 0.5;  // the reference's validation setting
  double top_p = 1.0;
  int64_t top_k = 0;
  int64_t samples = 1;      // n answers per prompt
  int64_t batch_size = 32;  // sequences per generate() call
  uint64_t seed = 0;
};

// The decoding, batching and placement params every benchmark takes.
void add_decoding_params(ParamSchema& schema, int64_t max_new_tokens);
DecodeOptions decode_options(const Params& params, uint64_t seed);
ml::LoadOptions load_options(const Params& params);
Json to_json(const DecodeOptions& options);

struct Query {
  std::string user;                        // the user turn; <image> where the image goes
  const data::ImageRef* image = nullptr;  // nullptr: a text-only prompt
};

class ResponseGenerator {
 public:
  ResponseGenerator(NodeContext& ctx, std::unique_ptr<ml::Backbone> model, DecodeOptions options);

  // responses[i][k]: sample k for query i. Prompts are grouped by length
  // into batches of batch_size sequences; each batch samples from its own
  // seed (derived from `seed` and the batch's position), so a run repeats
  // exactly with the same data, params and seed. Throws Error(Interrupted)
  // when the host asks the node to stop.
  std::vector<std::vector<std::string>> run(std::string_view system, const std::vector<Query>& queries,
                                            std::string_view label);

  // Log-likelihood of each completion after its query's prompt (the sum of
  // the completion tokens' log-probs, end of turn not included):
  // result[i][c] for completions[i][c]. Deterministic; batches hold
  // batch_size sequences.
  std::vector<std::vector<double>> score_completions(std::string_view system, const std::vector<Query>& queries,
                                                     const std::vector<std::vector<std::string>>& completions,
                                                     std::string_view label);

  ml::Backbone& model() { return *model_; }

  // Mean entropy (nats) of the model's full temperature-1 distribution at
  // every token run() generated: the policy entropy of the training-strategy
  // study, measured the same way for every model. -1 before any token.
  double mean_token_entropy() const { return entropy_tokens_ > 0 ? entropy_sum_ / entropy_tokens_ : -1.0; }

 private:
  torch::Tensor image_tensor(const data::ImageRef& ref);

  NodeContext& ctx_;
  std::unique_ptr<ml::Backbone> model_;
  DecodeOptions options_;
  std::map<std::string, torch::Tensor> images_;  // source -> [3,S,S] float in [0,1]
  double entropy_sum_ = 0, entropy_tokens_ = 0;
};

// Logs "LABEL: done/total (pct%), rate/s, eta" at most every `every_s`
// seconds, and always for the last item.
class ProgressLog {
 public:
  ProgressLog(NodeContext& ctx, std::string label, size_t total, std::string unit, double every_s = 10.0);
  void advance(size_t done);

 private:
  NodeContext& ctx_;
  std::string label_, unit_;
  size_t total_;
  double every_s_;
  double start_, last_;
};

}  // namespace mstar::bench
