// The speed paths of tiny_vlm compute what the plain paths do: the fused
// float32 RMSNorm (checked against float64, which takes ATen's composite
// ops), image features shared through Batch::image_index, and the
// autocast guard behind the `dtype` params.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ml_helpers.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"

namespace mstar::ml {
namespace {

using testing::max_abs_diff;

class FastPaths : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { set_num_threads(1); }
};

INSTANTIATE_TEST_SUITE_P(Families, FastPaths, ::testing::Values("qwen", "llava"));

// Masked mean NLL of a prompt + response batch, backward; the gradients by name.
std::map<std::string, torch::Tensor> nll_gradients(Backbone& model, const SequenceBatch& seq) {
  model.module().zero_grad();
  TokenScores s = model.score(seq.batch);
  torch::Tensor m = seq.response_mask.to(s.logprobs.scalar_type());
  (-(s.logprobs * m).sum() / m.sum()).backward();
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model.module().named_parameters())
    if (p.value().grad().defined()) out[p.key()] = p.value().grad().to(torch::kFloat64);
  return out;
}

SequenceBatch padded_batch(Backbone& model) {
  Batch prompts = testing::random_prompts(model, 3, 5);
  std::vector<std::vector<int64_t>> p, r;
  for (int64_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> row;
    for (int64_t j = 0; j < prompts.width(); ++j)
      if (prompts.attention_mask[i][j].item<int64_t>() == 1) row.push_back(prompts.token_ids[i][j].item<int64_t>());
    p.push_back(row);
    r.push_back(model.encode_response(std::string(i == 1 ? "T" : "F T F")));
  }
  SequenceBatch seq = pack_sequences(p, r, model.pad_token_id());
  seq.batch.images = prompts.images;
  return seq;
}

TEST_P(FastPaths, FusedFloat32GradientsMatchFloat64) {
  auto model = testing::make_tiny(GetParam());
  model->train();
  auto wide = model->clone();
  wide->to(torch::kCPU, torch::kFloat64);
  SequenceBatch seq = padded_batch(*model);
  const auto narrow_grads = nll_gradients(*model, seq);
  const auto wide_grads = nll_gradients(*wide, seq);
  ASSERT_EQ(narrow_grads.size(), wide_grads.size());
  for (const auto& [name, g] : wide_grads) {
    const double scale = std::max(1e-3, g.abs().max().item<double>());
    EXPECT_LT(max_abs_diff(narrow_grads.at(name), g) / scale, 1e-3) << name;
  }
}

TEST_P(FastPaths, SharedImageIndexEqualsRepeatedImages) {
  auto model = testing::make_tiny(GetParam());
  model->eval();
  torch::NoGradGuard no_grad;
  Batch prompts = testing::random_prompts(*model, 2, 9);
  torch::Tensor index = torch::tensor({1, 0, 1, 1}, torch::kInt64);
  Batch shared{prompts.images, prompts.token_ids.index_select(0, index), prompts.attention_mask.index_select(0, index),
               index};
  EXPECT_TRUE(with_row_images(*model, shared).image_index.defined()) << "tiny_vlm takes image_index itself";
  Batch expanded = shared;
  expanded.images = prompts.images.index_select(0, index);
  expanded.image_index = torch::Tensor();
  EXPECT_LT(max_abs_diff(model->forward(shared), model->forward(expanded)), 1e-5);
  EXPECT_LT(max_abs_diff(model->score(shared).logprobs, model->score(expanded).logprobs), 1e-5);
  SamplingOptions opts{.max_new_tokens = 5, .greedy = true, .stop_token_ids = {1 << 30}};
  EXPECT_TRUE(torch::equal(model->generate(shared, opts).tokens, model->generate(expanded, opts).tokens));
}

TEST_P(FastPaths, ImageIndexOutOfRangeIsBadInput) {
  auto model = testing::make_tiny(GetParam());
  torch::NoGradGuard no_grad;
  Batch prompts = testing::random_prompts(*model, 2, 9);
  prompts.image_index = torch::tensor({0, 2}, torch::kInt64);
  try {
    model->forward(prompts);
    FAIL() << "expected BadInput";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadInput);
    EXPECT_NE(std::string(e.what()).find("image_index holds 2"), std::string::npos) << e.what();
  }
}

TEST(Autocast, Bfloat16GuardCastsMatmulsAndRestores) {
  torch::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    const AutocastGuard none(torch::kCPU, torch::kFloat32);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  }
  {
    const AutocastGuard bf16(torch::kCPU, torch::kBFloat16);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32) << "the guard restores autocast off";
}

TEST(Autocast, ComputeDtypeNamesTheKey) {
  EXPECT_EQ(parse_compute_dtype("float32"), torch::kFloat32);
  EXPECT_EQ(parse_compute_dtype("bfloat16"), torch::kBFloat16);
  try {
    parse_compute_dtype("float16", "algorithm/sft.dtype");
    FAIL() << "expected BadInput";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadInput);
    EXPECT_NE(std::string(e.what()).find("algorithm/sft.dtype"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32 or bfloat16"), std::string::npos) << e.what();
  }
}

TEST(Autocast, Bfloat16TrainingStepStaysNearFloat32) {
  auto model = testing::make_tiny("qwen");
  model->train();
  SequenceBatch seq = padded_batch(*model);
  torch::Tensor f32 = model->score(seq.batch).logprobs.detach();
  torch::Tensor bf16;
  {
    const AutocastGuard guard(model->device(), torch::kBFloat16);
    TokenScores s = model->score(seq.batch);
    EXPECT_EQ(s.logprobs.scalar_type(), torch::kFloat32) << "log-probs are float32 under autocast too";
    (-(s.logprobs * seq.response_mask).sum()).backward();
    bf16 = s.logprobs.detach();
  }
  for (const auto& p : model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  // bfloat16 keeps 8 bits of mantissa: log-probs move by a few hundredths, not more.
  EXPECT_LT(max_abs_diff(f32 * seq.response_mask, bf16 * seq.response_mask), 0.25);
}

}  // namespace
}  // namespace mstar::ml
