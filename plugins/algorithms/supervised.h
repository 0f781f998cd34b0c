// Supervised cross-entropy on response tokens: the loss of algorithm/sft and
// the expert term of GRPO's hybrid (sft_coef).
#pragma once

#include <cstdint>
#include <vector>

#include "examples.h"
#include "mstar/ml/backbone.h"

namespace mstar::algorithms {

struct SftLossStats {
  double loss = 0;            // token mean of -log p over response tokens
  double token_accuracy = 0;  // argmax == target, over response tokens
  double entropy = 0;         // mean token entropy of the full distribution
  double tokens = 0;          // response tokens counted
};

// Cross-entropy of `rows` (their "response" ids given their prompts), the
// token mean over every response token of all rows, accumulated over
// micro-batches of `micro_batch` rows; `coef` x loss is backpropagated
// (coef = 0: statistics only, no graph). `total_tokens` > 0 is the mean's
// denominator instead of these rows' count: a data-parallel rank's share of
// the global batch's mean (the stats are then that share too).
SftLossStats sft_backward(ml::Backbone& model, const std::vector<Example>& examples, const std::vector<int64_t>& rows,
                          const ImageBank& images, int64_t micro_batch, double coef, double total_tokens = 0);

}  // namespace mstar::algorithms
