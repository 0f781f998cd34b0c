// What the shipped base model computes, recorded once and checked under
// whichever LibTorch this build uses: a LibTorch upgrade, a kernel change
// or an attention rewrite must not silently change a checkpoint's numbers.
//
// The golden file holds its own inputs (images, token ids, mask) next to the
// log-probs and entropies that score() gave for them, so checking it needs
// no tokenizer or image code of the day. Rewrite it only on purpose:
//   MSTAR_WRITE_GOLDEN=1 ./build/tests/ml_test --gtest_filter='BackboneGolden.*'
// and say in the commit which LibTorch wrote it (its metadata says too).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "mstar/ml/backbone.h"
#include "mstar/ml/registry.h"
#include "mstar/ml/safetensors.h"
#include "ml_helpers.h"

namespace mstar::ml {
namespace {

namespace fs = std::filesystem;

const fs::path kBaseModel = fs::path(MSTAR_SOURCE_DIR) / "models" / "tiny_vlm-qwen-S-base";
const fs::path kGolden = fs::path(MSTAR_SOURCE_DIR) / "tests" / "fixtures" / "golden" / "tiny_vlm-qwen-S-base.scores.safetensors";

// Float32 CPU kernels differ between LibTorch releases in summation order
// (oneDNN/OpenBLAS blocking, fused attention), not in what they compute:
// log-probs of a 0.44M-parameter model agree to ~1e-5; 1e-4 leaves room for
// another BLAS and flags any change of meaning (a wrong mask or position is
// off by 1e-1 or more).
constexpr double kTolerance = 1e-4;

// Images with structure at several scales (not noise, not flat), so the
// vision tower's output matters to the scores.
torch::Tensor pattern_images(int64_t count, int64_t size) {
  torch::Tensor y = torch::linspace(0, 1, size).view({1, 1, size, 1});
  torch::Tensor x = torch::linspace(0, 1, size).view({1, 1, 1, size});
  torch::Tensor k = torch::arange(1, count + 1, torch::kFloat32).view({count, 1, 1, 1});
  torch::Tensor c = torch::arange(1, 4, torch::kFloat32).view({1, 3, 1, 1});
  return (0.5 + 0.5 * torch::sin(k * 6.0 * x + c * 2.0 * y) * torch::cos(c * 5.0 * x * y + k)).contiguous();
}

SequenceBatch golden_inputs(Backbone& model) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"Is the following statement true or false? The circle is blue.", "<think> the circle is blue </think> <answer> T </answer>"},
      {"<image> Is the following statement true or false? A square is left of a star.", "<answer> F </answer>"},
      {"Is the following statement true or false? Nothing here is red.", "<think> a red glyph is at the top </think> <answer> F </answer>"},
      {"Name the symbol at the top left.", "a triangle"},
  };
  std::vector<std::vector<int64_t>> prompts, responses;
  for (const auto& [user, answer] : rows) {
    prompts.push_back(model.build_prompt("You are a careful reader of images.", user));
    responses.push_back(model.encode_response(answer));
  }
  SequenceBatch seq = pack_sequences(prompts, responses, model.pad_token_id());
  seq.batch.images = pattern_images(static_cast<int64_t>(rows.size()), model.image_size());
  return seq;
}

TEST(BackboneGolden, ShippedBaseMatchesRecordedScores) {
  testing::load_tiny_vlm();
  auto model = load_backbone(kBaseModel);
  model->eval();
  torch::NoGradGuard no_grad;

  if (std::getenv("MSTAR_WRITE_GOLDEN") != nullptr) {
    SequenceBatch seq = golden_inputs(*model);
    TokenScores s = model->score(seq.batch, {.temperature = 1.0, .entropies = true});
    fs::create_directories(kGolden.parent_path());
    save_safetensors(kGolden,
                     {{"images", seq.batch.images},
                      {"token_ids", seq.batch.token_ids},
                      {"attention_mask", seq.batch.attention_mask},
                      {"response_mask", seq.response_mask},
                      {"logprobs", s.logprobs},
                      {"entropies", s.entropies}},
                     {{"model", kBaseModel.filename().string()}, {"libtorch", TORCH_VERSION}});
    GTEST_SKIP() << "wrote " << kGolden << " under LibTorch " << TORCH_VERSION;
  }

  SafeTensors golden = load_safetensors(kGolden);
  Batch batch;
  batch.images = golden.at("images");
  batch.token_ids = golden.at("token_ids");
  batch.attention_mask = golden.at("attention_mask");
  TokenScores s = model->score(batch, {.temperature = 1.0, .entropies = true});

  torch::Tensor tokens = golden.at("attention_mask").to(torch::kBool);
  tokens.select(1, 0).fill_(false);  // position 0 predicts nothing
  const double logprob_diff =
      (s.logprobs - golden.at("logprobs")).abs().masked_select(tokens).max().item<double>();
  const double entropy_diff =
      (s.entropies - golden.at("entropies")).abs().masked_select(tokens).max().item<double>();
  EXPECT_LT(logprob_diff, kTolerance) << "recorded under LibTorch " << golden.metadata["libtorch"] << ", now "
                                      << TORCH_VERSION;
  EXPECT_LT(entropy_diff, kTolerance) << "recorded under LibTorch " << golden.metadata["libtorch"] << ", now "
                                      << TORCH_VERSION;
  // The comparison covers the vision path: other images give other scores,
  // by far more than the tolerance.
  batch.images = torch::zeros_like(batch.images);
  TokenScores blind = model->score(batch, {.temperature = 1.0});
  EXPECT_GT((blind.logprobs - s.logprobs).abs().masked_select(tokens).max().item<double>(), 100 * kTolerance);
  RecordProperty("max_logprob_diff", std::to_string(logprob_diff));
}

}  // namespace
}  // namespace mstar::ml
