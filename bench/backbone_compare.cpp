// backbone_compare: the C++ side of bench/backbone_compare.py (the driver
// that times it beside the eager PyTorch reference, bench/backbone_ref.py).
//
//   backbone_compare --export DIR --size S   writes DIR/model (a checkpoint),
//       DIR/inputs.safetensors (the batches both sides time) and the C++
//       log-probs of the training batch, which the reference must match
//   backbone_compare --time DIR --threads N --reps R   prints one JSON line:
//       train_ms     SFT step: score() + masked NLL + backward + AdamW, batch 32
//       sample_tps   generate(): 64 prompts x 48 new tokens, temperature 1
//       grpo_ms      one GRPO iteration: 8 prompts x 8 samples (image features
//                    once per prompt), reward, old and reference log-probs,
//                    clipped-ratio + k3-KL update with AdamW
//       dec_eff      decode-only matmul FLOP/s / GEMM FLOP/s of this process
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include <torch/torch.h>

#include "backbone_common.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"
#include "mstar/ml/safetensors.h"

using namespace mstar;
using namespace mstar::ml;
using namespace mstar::bench;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kGrpoPrompts = 8, kGrpoN = 8;
constexpr int64_t kAnswerWord = 5;  // the reward: does the response hold this token

void export_inputs(const fs::path& dir, const std::string& size) {
  Tokenizer tok = bench_tokenizer();
  Json config = {{"family", "qwen"}, {"size", size}, {"text_config", {{"vocab_size", tok.size()}}},
                 {"image_token_id", tok.image_id()}};
  torch::manual_seed(1);
  auto model = BackboneRegistry::instance().create("tiny_vlm", config, tok);
  model->save(dir / "model");
  SequenceBatch train = train_batch(*model);
  Batch sample = sample_batch(*model, kSampleBatch);
  Batch grpo = sample_batch(*model, kGrpoPrompts);
  torch::Tensor logprobs;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    logprobs = model->score(train.batch).logprobs;
  }
  save_safetensors(dir / "inputs.safetensors",
                   {{"train_ids", train.batch.token_ids},
                    {"train_mask", train.batch.attention_mask},
                    {"train_images", train.batch.images},
                    {"train_response_mask", train.response_mask},
                    {"train_logprobs", logprobs},
                    {"sample_ids", sample.token_ids},
                    {"sample_mask", sample.attention_mask},
                    {"sample_images", sample.images},
                    {"grpo_ids", grpo.token_ids},
                    {"grpo_mask", grpo.attention_mask},
                    {"grpo_images", grpo.images}},
                   {{"new_tokens", std::to_string(kNewTokens)}, {"grpo_n", std::to_string(kGrpoN)},
                    {"answer_word", std::to_string(tok.id(word_token(kAnswerWord)))}});
}

// Group-normalised rewards of n adjacent samples per prompt.
torch::Tensor advantages(const torch::Tensor& rewards, int64_t n) {
  torch::Tensor r = rewards.view({-1, n});
  return ((r - r.mean(1, true)) / (r.std(1, true, true) + 1e-6)).view({-1});
}

void time_side(const fs::path& dir, int threads, int reps) {
  set_num_threads(threads);
  auto model = load_backbone(dir / "model");
  SafeTensors in = load_safetensors(dir / "inputs.safetensors");
  const int64_t answer = std::stoll(in.metadata.at("answer_word"));
  const FlopModel fm(model->config());

  Batch train{in.at("train_images"), in.at("train_ids"), in.at("train_mask"), {}};
  torch::Tensor rmask = in.at("train_response_mask").to(torch::kFloat32);
  model->train();
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  double cpu_train = 0, cpu_sample = 0, cpu_grpo = 0;  // CPU seconds per run (g_last_cpu)
  const double train_s = time_median(reps, [&] {
    opt.zero_grad();
    TokenScores s = model->score(train);
    (-(s.logprobs * rmask).sum() / rmask.sum()).backward();
    opt.step();
  });
  cpu_train = g_last_cpu;

  model->eval();
  Batch sample{in.at("sample_images"), in.at("sample_ids"), in.at("sample_mask"), {}};
  SamplingOptions sopts{.max_new_tokens = kNewTokens, .temperature = 1.0, .stop_token_ids = {kNoStop}, .seed = 1};
  sopts.compute_entropies = false;
  const double sample_s = time_median(reps, [&] { model->generate(sample, sopts); });
  cpu_sample = g_last_cpu;
  const double prefill_s = time_median(reps, [&] {
    c10::InferenceMode guard;
    torch::Tensor logits;
    model->prefill(sample, kNewTokens, logits);
  });
  const double p = static_cast<double>(sample.width());
  double decode_flops = 0;
  for (int64_t s = 1; s < kNewTokens; ++s) decode_flops += kSampleBatch * fm.lm(1, p + s, 1);
  const double gemm = std::max(gemm_rate(kTrainBatch * train.width(), fm.td, 2 * fm.tf),
                               gemm_rate(kTrainBatch * train.width(), fm.td, 2 * fm.tf));

  // GRPO: each prompt's image once, its n rows pointing at it.
  auto ref = model->clone();
  ref->eval();
  Batch prompts{in.at("grpo_images"), in.at("grpo_ids").repeat_interleave(kGrpoN, 0),
                in.at("grpo_mask").repeat_interleave(kGrpoN, 0), torch::arange(kGrpoPrompts).repeat_interleave(kGrpoN)};
  torch::Generator gen = make_generator(7);
  SamplingOptions gopts{.max_new_tokens = kNewTokens, .temperature = 1.0, .stop_token_ids = {kNoStop}};
  gopts.generator = gen;
  gopts.compute_entropies = false;
  const double grpo_s = time_median(reps, [&] {
    model->eval();
    Generation g = model->generate(prompts, gopts);
    // A sampled <image> would make the sequence unscorable (GRPO proper stops on it).
    g.tokens.masked_fill_(g.tokens == model->tokenizer().image_id(), model->tokenizer().bos_id());
    std::vector<float> rewards;
    torch::Tensor tokens = g.tokens.contiguous();
    auto tk = tokens.accessor<int64_t, 2>();
    for (int64_t i = 0; i < tokens.size(0); ++i) {
      float r = 0;
      for (int64_t j = 0; j < tokens.size(1); ++j) r = tk[i][j] == answer ? 1.0f : r;
      rewards.push_back(r);
    }
    torch::Tensor adv = advantages(torch::tensor(rewards), kGrpoN).unsqueeze(1);
    SequenceBatch seq = append_generation(prompts, g);
    torch::Tensor old_lp, ref_lp;
    {
      torch::NoGradGuard no_grad;
      old_lp = model->score(seq.batch).logprobs;
      ref_lp = ref->score(seq.batch).logprobs;
    }
    model->train();
    opt.zero_grad();
    torch::Tensor lp = model->score(seq.batch).logprobs;
    torch::Tensor m = seq.response_mask.to(torch::kFloat32);
    torch::Tensor ratio = (lp - old_lp).exp();
    torch::Tensor pg = -torch::min(ratio * adv, ratio.clamp(0.8, 1.28) * adv);
    torch::Tensor d = ref_lp - lp;
    torch::Tensor kl = d.exp() - d - 1;
    (((pg + 0.04 * kl) * m).sum() / m.sum()).backward();
    opt.step();
  });
  cpu_grpo = g_last_cpu;

  const double tokens = static_cast<double>(kSampleBatch * kNewTokens);
  std::printf("{\"side\": \"cpp\", \"threads\": %d, \"train_ms\": %.3f, \"sample_tps\": %.1f, \"grpo_ms\": %.3f, "
              "\"train_cpu_ms\": %.3f, \"sample_cpu_tps\": %.1f, \"grpo_cpu_ms\": %.3f, "
              "\"dec_eff\": %.4f, \"gemm_gflops\": %.3f, \"torch\": \"%s\"}\n",
              threads, train_s * 1e3, tokens / sample_s, grpo_s * 1e3, cpu_train * 1e3, tokens / cpu_sample,
              cpu_grpo * 1e3, decode_flops / std::max(1e-9, sample_s - prefill_s) / gemm, gemm / 1e9, TORCH_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  std::string export_dir, time_dir, size = "S";
  int threads = 1, reps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--export") export_dir = value;
    else if (flag == "--time") time_dir = value;
    else if (flag == "--size") size = value;
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--reps") reps = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    load_library(MSTAR_TINY_VLM_PLUGIN);
    if (!export_dir.empty()) export_inputs(export_dir, size);
    else if (!time_dir.empty()) time_side(time_dir, threads, reps);
    else {
      std::fprintf(stderr, "usage: backbone_compare --export DIR --size S|M|L | --time DIR [--threads N] [--reps R]\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "backbone_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
