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

#include "mstar/ml/backbone.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"

using namespace mstar;
using namespace mstar::ml;

namespace {

constexpr int64_t kTrainBatch = 32;
constexpr int64_t kSampleBatch = 64;
constexpr int64_t kNewTokens = 48;
constexpr int64_t kNoStop = 1 << 30;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// CPU seconds of the process during the last time_median() runs, per run.
double g_last_cpu = 0;

// Median wall time of `reps` runs after one warm-up.
double time_median(int reps, const std::function<void()>& fn) {
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

double gemm_rate(int64_t m, int64_t k, int64_t n) {
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

struct Row {
  std::string size;
  int threads = 0, intra_op = 0;
  int64_t params = 0, seq = 0, prompt = 0;
  double gemm = 0, peak = 0, train_s = 0, train_cpu = 0, train_flops = 0, sample_s = 0, sample_flops = 0, prefill_s = 0,
         prefill_flops = 0, nocache_s = 0;
};

std::string word(int i) {
  std::string w = "w";
  w += std::to_string(i);
  w += ' ';
  return w;
}

Tokenizer bench_tokenizer() {
  std::string text;
  for (int i = 0; i < 243; ++i) text += word(i);
  return Tokenizer::build({text, "T F ? ."});
}

std::string words(int n, int offset) {
  std::string s;
  for (int i = 0; i < n; ++i) s += word((i * 7 + offset) % 243);
  return s;
}

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

  // Training batch: prompt (image + 12 words) + response (~30 tokens), no padding.
  std::vector<std::vector<int64_t>> prompts, responses;
  for (int i = 0; i < kTrainBatch; ++i) {
    prompts.push_back(model->build_prompt("", words(12, i)));
    std::string response = "<think> ";
    response += words(22, i + 3);
    response += "</think> <answer> T </answer>";
    responses.push_back(model->encode_response(response));
  }
  SequenceBatch seq = pack_sequences(prompts, responses, tok.pad_id());
  seq.batch.images = torch::rand({kTrainBatch, 3, model->image_size(), model->image_size()});
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
  std::vector<std::vector<int64_t>> sprompts;
  for (int i = 0; i < kSampleBatch; ++i) sprompts.push_back(model->build_prompt("", words(12, i)));
  Batch prompt_batch = pad_batch(sprompts, tok.pad_id(), PadSide::Left);
  prompt_batch.images = torch::rand({kSampleBatch, 3, model->image_size(), model->image_size()});
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
      torch::Tensor last = model->forward({prompt_batch.images, ids, mask}).select(1, -1);
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
