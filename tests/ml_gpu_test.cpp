// What needs a GPU (ctest -L gpu; scripts/gpu_check.sh runs it on a GPU
// machine). Without a usable CUDA device every test here skips, saying so,
// and ctest counts it as skipped, not passed.
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"
#include "mstar/ml/safetensors.h"

namespace mstar::ml {
namespace {

namespace fs = std::filesystem;

const fs::path kBaseModel = fs::path(MSTAR_SOURCE_DIR) / "models" / "tiny_vlm-qwen-S-base";
const fs::path kGolden = fs::path(MSTAR_SOURCE_DIR) / "tests" / "fixtures" / "golden" / "tiny_vlm-qwen-S-base.scores.safetensors";

#define MSTAR_REQUIRE_GPU()                                                                   \
  do {                                                                                        \
    if (!torch::cuda::is_available())                                                         \
      GTEST_SKIP() << "needs a CUDA device: this machine has none (torch::cuda::is_available)"; \
  } while (0)

// The golden inputs scored on the GPU give the scores recorded on the CPU:
// float32 on CUDA may use TF32 in matmuls and other reduction orders, so the
// tolerance is looser than the CPU's 1e-4 but still far below what a wrong
// mask or position would change (~1e-1).
TEST(GpuBackbone, ShippedBaseScoresOnCudaMatchTheCpuGolden) {
  MSTAR_REQUIRE_GPU();
  load_library(MSTAR_TINY_VLM_PLUGIN);
  auto model = load_backbone(kBaseModel, {.device = "cuda", .dtype = "float32"});
  ASSERT_TRUE(model->device().is_cuda());
  model->eval();
  torch::NoGradGuard no_grad;
  SafeTensors golden = load_safetensors(kGolden);
  const torch::Device cuda = model->device();
  Batch batch;
  batch.images = golden.at("images").to(cuda);
  batch.token_ids = golden.at("token_ids").to(cuda);
  batch.attention_mask = golden.at("attention_mask").to(cuda);
  TokenScores s = model->score(batch, {.temperature = 1.0, .entropies = true});
  ASSERT_TRUE(s.logprobs.device().is_cuda());
  torch::Tensor tokens = golden.at("attention_mask").to(torch::kBool);
  tokens.select(1, 0).fill_(false);
  const double diff = (s.logprobs.cpu() - golden.at("logprobs")).abs().masked_select(tokens).max().item<double>();
  EXPECT_LT(diff, 5e-3);
  RecordProperty("max_logprob_diff", std::to_string(diff));
}

// Sampling runs on the device end to end and gives valid token ids.
TEST(GpuBackbone, GeneratesOnCuda) {
  MSTAR_REQUIRE_GPU();
  load_library(MSTAR_TINY_VLM_PLUGIN);
  auto model = load_backbone(kBaseModel, {.device = "cuda", .dtype = "bfloat16"});
  SafeTensors golden = load_safetensors(kGolden);
  Batch prompts = pad_batch({model->build_prompt("", "Is the circle blue?")}, model->pad_token_id(), PadSide::Left);
  prompts.token_ids = prompts.token_ids.to(model->device());
  prompts.attention_mask = prompts.attention_mask.to(model->device());
  prompts.images = golden.at("images").narrow(0, 0, 1).to(model->device(), model->dtype());
  Generation g = model->generate(prompts, {.max_new_tokens = 8, .temperature = 1.0});
  ASSERT_EQ(g.tokens.size(0), 1);
  EXPECT_TRUE(((g.tokens >= 0) & (g.tokens < model->tokenizer().size())).all().item<bool>());
}

// dtype: bfloat16 (the algorithms' autocast): a training step on the GPU
// keeps float32 weights, and its log-probs stay within bf16 rounding of float32.
TEST(GpuBackbone, Bfloat16AutocastTrainingStepNearFloat32) {
  MSTAR_REQUIRE_GPU();
  load_library(MSTAR_TINY_VLM_PLUGIN);
  auto model = load_backbone(kBaseModel, {.device = "cuda", .dtype = "float32"});
  model->train();
  SafeTensors golden = load_safetensors(kGolden);
  const torch::Device cuda = model->device();
  Batch batch;
  batch.images = golden.at("images").to(cuda);
  batch.token_ids = golden.at("token_ids").to(cuda);
  batch.attention_mask = golden.at("attention_mask").to(cuda);
  torch::Tensor response = golden.at("response_mask").to(cuda, torch::kFloat32);
  torch::Tensor f32 = model->score(batch).logprobs.detach();
  const AutocastGuard autocast(cuda, torch::kBFloat16);
  TokenScores s = model->score(batch);
  (-(s.logprobs * response).sum() / response.sum()).backward();
  for (const auto& p : model->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    if (p.grad().defined()) EXPECT_TRUE(p.grad().isfinite().all().item<bool>());
  }
  const double diff = ((s.logprobs.detach() - f32) * response).abs().max().item<double>();
  EXPECT_LT(diff, 0.25);
  RecordProperty("max_bf16_logprob_diff", std::to_string(diff));
}

}  // namespace
}  // namespace mstar::ml
