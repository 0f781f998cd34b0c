#include "supervised.h"

#include <algorithm>
#include <optional>

#include <torch/torch.h>

#include "mstar/error.h"
#include "mstar/ml/sampling.h"

namespace mstar::algorithms {

SftLossStats sft_backward(ml::Backbone& model, const std::vector<Example>& examples, const std::vector<int64_t>& rows,
                          const ImageBank& images, int64_t micro_batch, double coef, double total_tokens) {
  SftLossStats stats;
  if (total_tokens <= 0)
    for (int64_t r : rows) total_tokens += static_cast<double>(examples.at(static_cast<size_t>(r)).response.size());
  if (total_tokens == 0) throw_bad_input("supervised batch without response tokens (rows need a \"response\")");
  const int64_t step = std::max<int64_t>(1, micro_batch);
  std::optional<torch::NoGradGuard> no_grad;
  if (coef == 0) no_grad.emplace();
  double nll = 0, correct = 0, entropy = 0;
  for (size_t begin = 0; begin < rows.size(); begin += static_cast<size_t>(step)) {
    const size_t end = std::min(rows.size(), begin + static_cast<size_t>(step));
    std::vector<const std::vector<int64_t>*> prompts, responses;
    std::vector<int64_t> image_ids;
    for (size_t i = begin; i < end; ++i) {
      const Example& ex = examples.at(static_cast<size_t>(rows[i]));
      prompts.push_back(&ex.prompt);
      responses.push_back(&ex.response);
      image_ids.push_back(ex.image);
    }
    ml::SequenceBatch seq = pack_rows(prompts, responses, image_ids, images, model.pad_token_id());
    const int64_t pw = seq.prompt_width, width = seq.batch.width() - pw;
    if (width == 0) continue;
    // Logits at t predict x_{t+1}: the response's tokens [pw, T) come from [pw-1, T-1).
    torch::Tensor logits = model.forward(ml::with_row_images(model, seq.batch));
    torch::Tensor pred = logits.narrow(1, pw - 1, width);
    const torch::Device dev = logits.device();
    torch::Tensor targets = seq.batch.token_ids.narrow(1, pw, width).to(dev);
    torch::Tensor mask = seq.response_mask.narrow(1, pw, width).to(dev).to(torch::kFloat32);
    torch::Tensor logp = ml::token_logprobs(pred, targets);
    torch::Tensor loss = -(logp * mask).sum() / total_tokens;
    if (coef != 0) (coef * loss).backward();
    torch::NoGradGuard stats_only;
    nll += -(logp.detach() * mask).sum().item<double>();
    correct += ((pred.detach().argmax(-1) == targets).to(torch::kFloat32) * mask).sum().item<double>();
    entropy += (ml::token_entropies(pred.detach()) * mask).sum().item<double>();
  }
  stats.tokens = total_tokens;
  stats.loss = nll / total_tokens;
  stats.token_accuracy = correct / total_tokens;
  stats.entropy = entropy / total_tokens;
  return stats;
}

}  // namespace mstar::algorithms
