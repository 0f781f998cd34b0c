// backbone_bench: speed of backbone/tiny_vlm on this machine.
//
// For each size (S, M, L) and thread count (1, 2):
//   gemm     FLOP/s of a torch::mm shaped like the model's largest training
//            matmul ([32*T, hidden] x [hidden, 2*intermediate]), same run
//            (best of three measurements spread over the run)
//   train    forward+backward+AdamW step of a batch of 32 (prompt with image
//            + response), its matmul FLOP/s and MFU = that / gemm
//   sample   generate(): batch 64, 48 new tokens, KV cache, temperature 1;
//            new tokens/s, efficiency = matmul FLOP/s of the call / gemm
//            (prefill included), decode-only efficiency (prefill time and
//            FLOPs taken out), and the speedup over recomputing the whole
//            sequence for every new token (no cache)
// FLOPs count matmuls only (2mnk), attention over all T keys as computed.
//
// Threads: N = N threads for LibTorch's pool and OpenBLAS's; N/K = N BLAS
// threads beside K LibTorch threads (the intra_op_threads of algorithm/sft).
//
// Usage: backbone_bench [--family qwen|llava] [--sizes S,M,L] [--threads 1,2,2/1] [--reps N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <torch/torch.h>

#include "backbone_common.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"

using namespace mstar;
using namespace mstar::ml;
using namespace mstar::bench;

namespace {

struct Row {
  std::string size;
  int threads = 0, intra_op = 0;
  int64_t params = 0, seq = 0, prompt = 0;
  double gemm = 0, peak = 0, train_s = 0, train_cpu = 0, train_flops = 0, sample_s = 0, sample_flops = 0, prefill_s = 0,
         prefill_flops = 0, nocache_s = 0;
};

Row measure(const std::string& family, const std::string& size, int threads, int intra_op, int reps) {
  mstar::ml::set_num_threads(threads);
  if (intra_op > 0) torch::set_num_threads(intra_op);
  Tokenizer tok = bench_tokenizer();
  Json config = {{"family", family}, {"size", size}, {"text_config", {{"vocab_size", tok.size()}}},
                 {"image_token_id", tok.image_id()}};
  torch::manual_seed(1);
  auto model = BackboneRegistry::instance().create("tiny_vlm", config, tok);
  const FlopModel fm(model->config());
  Row r;
  r.size = size;
  r.threads = threads;
  r.intra_op = intra_op;
  r.params = model->parameter_count();

  SequenceBatch seq = train_batch(*model);
  r.seq = seq.batch.width();
  r.prompt = seq.prompt_width;
  // On a shared machine one GEMM measurement can land in a busy moment:
  // take the best of three, spread over the run (a conservative MFU).
  auto measure_gemm = [&] {
    r.gemm = std::max(r.gemm, gemm_rate(kTrainBatch * r.seq, fm.td, 2 * fm.tf));
    r.peak = std::max(r.peak, gemm_rate(1024, 1024, 1024));
  };
  measure_gemm();

  model->train();
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-4));
  torch::Tensor rmask = seq.response_mask.to(torch::kFloat32);
  r.train_s = time_median(reps, [&] {
    opt.zero_grad();
    TokenScores s = model->score(seq.batch);
    (-(s.logprobs * rmask).sum() / rmask.sum()).backward();
    opt.step();
  });
  r.train_cpu = g_last_cpu;
  measure_gemm();
  const double seq_len = static_cast<double>(r.seq);
  r.train_flops = 3.0 * kTrainBatch * (fm.vision() + fm.lm(seq_len, seq_len, seq_len));

  // Sampling: 64 prompts, 48 new tokens.
  model->eval();
  Batch prompt_batch = sample_batch(*model, kSampleBatch);
  const double p = static_cast<double>(prompt_batch.width());
  SamplingOptions opts{.max_new_tokens = kNewTokens, .temperature = 1.0, .stop_token_ids = {kNoStop}, .seed = 1};
  r.sample_s = time_median(reps, [&] { model->generate(prompt_batch, opts); });
  r.prefill_s = time_median(reps, [&] {
    c10::InferenceMode guard;
    torch::Tensor logits;
    model->prefill(prompt_batch, kNewTokens, logits);
  });
  r.prefill_flops = kSampleBatch * (fm.vision() + fm.lm(p, p, 1));
  double decode = 0;
  for (int64_t s = 1; s < kNewTokens; ++s) decode += fm.lm(1, p + s, 1);
  r.sample_flops = r.prefill_flops + kSampleBatch * decode;
  measure_gemm();

  // No cache: the whole sequence (and the image) again for every new token.
  r.nocache_s = time_median(1, [&] {
    c10::InferenceMode guard;
    torch::Generator gen = make_generator(1);
    torch::Tensor ids = prompt_batch.token_ids, mask = prompt_batch.attention_mask, lp;
    for (int64_t s = 0; s < kNewTokens; ++s) {
      torch::Tensor last = model->forward({prompt_batch.images, ids, mask, {}}).select(1, -1);
      torch::Tensor next = sample_next(last, opts, gen, lp, nullptr);
      next.masked_fill_(next == tok.image_id(), tok.bos_id());
      ids = torch::cat({ids, next.unsqueeze(1)}, 1);
      mask = torch::cat({mask, torch::ones({kSampleBatch, 1}, torch::kInt64)}, 1);
    }
  });
  return r;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenMP's default active waiting turns a 2-thread run on a machine that
  // other processes load into a spin-lock contest (20-40x slower steps);
  // libgomp reads the policy at load time, so set it and start again.
  if (!std::getenv("OMP_WAIT_POLICY")) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);
  }
  std::string family = "qwen";
  std::vector<std::string> sizes = {"S", "M", "L"};
  std::vector<std::string> threads = {"1", "2", "2/1"};
  int reps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--family") family = value;
    else if (flag == "--sizes") sizes = split(value);
    else if (flag == "--threads") threads = split(value);
    else if (flag == "--reps") reps = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  load_library(MSTAR_TINY_VLM_PLUGIN);
  std::printf("backbone_bench: tiny_vlm family %s, LibTorch %s, hardware threads %u, OMP_WAIT_POLICY=%s\n",
              family.c_str(), TORCH_VERSION, std::thread::hardware_concurrency(), std::getenv("OMP_WAIT_POLICY"));
  std::printf("train: batch %ld; sample: batch %ld, %ld new tokens; GFLOP/s are matmul FLOPs\n\n",
              static_cast<long>(kTrainBatch), static_cast<long>(kSampleBatch), static_cast<long>(kNewTokens));
  std::printf("%-4s %4s %9s %4s | %8s %8s | %9s %5s %8s %5s %5s | %9s %6s %6s %6s %8s\n", "size", "thr", "params",
              "T", "gemm", "gemm1k", "train ms", "cpu%", "GFLOP/s", "MFU", "MFU1k", "sample/s", "eff", "dec.ef",
              "pre ms", "KV x");
  for (const auto& size : sizes)
    for (const std::string& t : threads) {
      const size_t slash = t.find('/');
      Row r = measure(family, size, std::stoi(t.substr(0, slash)),
                      slash == std::string::npos ? 0 : std::stoi(t.substr(slash + 1)), reps);
      const std::string thr = r.intra_op > 0 ? std::to_string(r.threads) + "/" + std::to_string(r.intra_op)
                                             : std::to_string(r.threads);
      const double train_rate = r.train_flops / r.train_s;
      const double sample_rate = r.sample_flops / r.sample_s;
      const double decode_rate = (r.sample_flops - r.prefill_flops) / std::max(1e-9, r.sample_s - r.prefill_s);
      std::printf("%-4s %4s %9ld %4ld | %8.1f %8.1f | %9.1f %4.0f%% %8.1f %4.0f%% %4.0f%% | %9.0f %5.0f%% %5.0f%% %6.1f %7.1fx\n",
                  r.size.c_str(), thr.c_str(), static_cast<long>(r.params), static_cast<long>(r.seq), r.gemm / 1e9,
                  r.peak / 1e9, r.train_s * 1e3, 100 * r.train_cpu / (r.train_s * r.threads), train_rate / 1e9, 100 * train_rate / r.gemm, 100 * train_rate / r.peak,
                  kSampleBatch * kNewTokens / r.sample_s, 100 * sample_rate / r.gemm, 100 * decode_rate / r.gemm,
                  r.prefill_s * 1e3, r.nocache_s / r.sample_s);
      std::fflush(stdout);
    }
  std::printf("\ngemm: torch::mm [32*T, hidden] x [hidden, 2*intermediate]; gemm1k: 1024^3. MFU = train GFLOP/s / gemm.\n"
              "thr: N threads, or N BLAS threads beside K LibTorch threads (N/K).\n"
              "cpu%%: CPU time of the training steps / (wall time x threads): below 100%% the machine was shared.\n"
              "eff = generate() matmul FLOP/s / gemm (prefill included); dec.ef = decode steps only; KV x = no-cache time / "
              "KV-cache time.\n");
  return 0;
}
