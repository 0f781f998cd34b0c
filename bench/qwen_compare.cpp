// qwen_compare: the C++ side of bench/qwen_compare.py (the driver that times
// it beside transformers' Qwen2_5_VLForConditionalGeneration on the same
// checkpoint and inputs).
//
//   qwen_compare --time DIR [--threads N] [--reps R] [--device cpu|cuda]
//                [--dtype float32|bfloat16] [--peak-tflops P]
//       DIR/model (save_pretrained) and DIR/inputs.safetensors (written by
//       qwen_compare.py --export). Checks the training batch's log-probs
//       against transformers' (written there too), then prints one JSON line:
//       sample_tps   Backbone::generate: the sample batch (one image each,
//                    left-padded) x new_tokens, temperature 1, KV cache
//       train_ms     forward (logits of every position) + token NLL + backward
//       train_tflops matmul FLOPs of that step / its time; mfu = / --peak-tflops
//   qwen_compare --load DIR [--dtype bfloat16]
//       loads DIR (qwen2_5_vl::load_model) and prints the peak RSS, the peaks
//       of its anonymous and file-backed parts (/proc/self/status, sampled
//       every 2 ms) and the checkpoint's bytes on disk.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <torch/torch.h>

#include "backbone_common.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/safetensors.h"
#include "qwen2_5_vl.h"

using namespace mstar;
using namespace mstar::ml;
namespace fs = std::filesystem;
namespace q = mstar::qwen2_5_vl;

namespace {

// kB values of /proc/self/status lines.
struct Rss {
  int64_t hwm = 0, anon = 0, file = 0;
};
Rss read_rss() {
  std::ifstream in("/proc/self/status");
  Rss r;
  std::string key;
  int64_t kb = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    s >> key >> kb;
    if (key == "VmHWM:") r.hwm = kb;
    else if (key == "RssAnon:") r.anon = kb;
    else if (key == "RssFile:") r.file = kb;
  }
  return r;
}

void load_only(const fs::path& dir, const std::string& dtype) {
  std::atomic<bool> done{false};
  Rss peak;
  std::thread sampler([&] {
    while (!done) {
      const Rss r = read_rss();
      peak.anon = std::max(peak.anon, r.anon);
      peak.file = std::max(peak.file, r.file);
      peak.hwm = std::max(peak.hwm, r.anon + r.file);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const Rss before = read_rss();
  const auto t0 = std::chrono::steady_clock::now();
  q::Qwen2_5_VL model = q::load_model(dir, torch::kCPU, parse_dtype(dtype));
  const double seconds = bench::seconds_since(t0);
  done = true;
  sampler.join();
  const Rss after = read_rss();
  int64_t disk = 0, params = 0, param_bytes = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") disk += static_cast<int64_t>(e.file_size());
  for (const auto& p : model->parameters()) {
    params += p.numel();
    param_bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  const double gb = 1e9, kb = 1024;
  std::printf("{\"disk_gb\": %.3f, \"params\": %lld, \"param_gb\": %.3f, \"load_s\": %.1f, \"before_gb\": %.3f, "
              "\"vm_hwm_gb\": %.3f, \"peak_anon_gb\": %.3f, \"peak_file_gb\": %.3f, \"peak_sampled_gb\": %.3f, "
              "\"after_anon_gb\": %.3f, \"after_file_gb\": %.3f, \"hwm_over_disk\": %.3f, \"anon_over_disk\": %.3f}\n",
              disk / gb, static_cast<long long>(params), param_bytes / gb, seconds, before.hwm * kb / gb,
              after.hwm * kb / gb, peak.anon * kb / gb, peak.file * kb / gb, peak.hwm * kb / gb, after.anon * kb / gb,
              after.file * kb / gb, after.hwm * kb / static_cast<double>(disk), peak.anon * kb / static_cast<double>(disk));
}

// Matmul FLOPs of one forward pass over `tokens` text positions of width
// `width` (attention counted in full) and `patches` vision patches.
double forward_flops(const q::Config& c, double rows, double width, double patches) {
  const q::TextConfig& t = c.text;
  const double hd = static_cast<double>(t.head_dim()), tokens = rows * width;
  const double proj = 2.0 * t.hidden * (t.heads + 2 * t.kv_heads) * hd + 2.0 * t.heads * hd * t.hidden;
  const double mlp = 6.0 * t.hidden * t.intermediate, attn = 4.0 * width * t.heads * hd;
  double f = tokens * (t.layers * (proj + mlp + attn) + 2.0 * t.hidden * t.vocab);
  const q::VisionConfig& v = c.vision;
  const double vblock = 2.0 * v.hidden * 4 * v.hidden + 6.0 * v.hidden * v.intermediate;
  const double merged = 4.0 * v.hidden;  // the merger's MLP runs on patches / 4 rows of 4x width
  f += patches * (2.0 * v.patch_dim() * v.hidden + v.depth * vblock) +
       patches / 4 * (2.0 * merged * merged + 2.0 * merged * v.out_hidden);
  return f;  // vision attention (windows of 64 patches) left out: small
}

void time_side(const fs::path& dir, int threads, int reps, const std::string& device_name, const std::string& dtype_name,
               double peak_tflops) {
  set_num_threads(threads);
  const torch::Device device = parse_device(device_name);
  const torch::Dtype dtype = parse_dtype(dtype_name);
  const bool cuda = device.is_cuda();
  auto sync = [&] {
    if (cuda) torch::cuda::synchronize();
  };
  q::Qwen2_5_VL model = q::load_model(dir / "model", device, dtype);
  SafeTensors in = load_safetensors(dir / "inputs.safetensors");
  const int64_t new_tokens = std::stoll(in.metadata.at("new_tokens"));
  q::ProcessorConfig processor;
  processor.min_pixels = std::stoll(in.metadata.at("min_pixels"));
  processor.max_pixels = std::stoll(in.metadata.at("max_pixels"));
  const int64_t image_size = in.at("sample_images").size(1);
  // The tokenizer only names pad/eos here: every id the bench feeds is given.
  auto backbone = q::make_backbone(model->config, processor, bench::bench_tokenizer(), model);
  auto as_batch = [&](const char* prefix) {
    const std::string p = prefix;
    // uint8 [B,H,W,3] -> [B,3,H,W] in [0,1]: the processor turns it back into exactly these bytes.
    torch::Tensor images = in.at(p + "_images").permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    return Batch{images, in.at(p + "_ids"), in.at(p + "_mask"), {}};
  };

  // Agreement first: the same log-probs as transformers, else nothing is timed.
  const Batch train = as_batch("train");
  const torch::Tensor ids = train.token_ids.to(device), mask = train.attention_mask.to(device);
  const torch::Tensor targets = ids.narrow(1, 1, ids.size(1) - 1);
  const torch::Tensor weight = mask.narrow(1, 1, mask.size(1) - 1).to(torch::kFloat32);
  auto token_logprobs = [&] {
    const torch::Tensor logits = backbone->forward(train);
    const torch::Tensor lp = torch::log_softmax(logits.narrow(1, 0, logits.size(1) - 1).to(torch::kFloat32), -1);
    return lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  };
  double agree = 0;
  {
    torch::NoGradGuard no_grad;
    backbone->eval();
    const torch::Tensor want = in.at("train_logprobs").to(device);
    agree = ((token_logprobs() - want).abs() * weight).max().item<double>();
    // bf16 on both sides rounds differently (fused kernels): reported, not checked.
    if (dtype == torch::kFloat32 && !(agree <= 1e-3))
      throw Error(ErrorCategory::Internal, "qwen_compare: log-probs differ from transformers' by " +
                                               std::to_string(agree) + " > 1e-3");
  }

  backbone->train();
  const double train_s = bench::time_median(reps, [&] {
    for (auto& p : backbone->module().parameters()) p.mutable_grad() = torch::Tensor();
    (-(token_logprobs() * weight).sum() / weight.sum()).backward();
    sync();
  });
  const double train_cpu = bench::g_last_cpu;

  backbone->eval();
  const Batch sample = as_batch("sample");
  SamplingOptions sopts{.max_new_tokens = new_tokens, .temperature = 1.0, .stop_token_ids = {bench::kNoStop}, .seed = 1};
  sopts.compute_entropies = false;
  const double sample_s = bench::time_median(reps, [&] {
    backbone->generate(sample, sopts);
    sync();
  });
  const double sample_cpu = bench::g_last_cpu;

  const double patches = static_cast<double>(in.at("train_grid").prod(-1).sum().item<int64_t>());
  const double flops = 3.0 * forward_flops(model->config, static_cast<double>(ids.size(0)),
                                           static_cast<double>(ids.size(1)), patches);
  const double tokens = static_cast<double>(sample.token_ids.size(0) * new_tokens);
  const double tflops = flops / train_s / 1e12;
  std::printf("{\"side\": \"cpp\", \"threads\": %d, \"device\": \"%s\", \"dtype\": \"%s\", \"agree\": %.3g, "
              "\"train_ms\": %.1f, \"train_cpu_ms\": %.1f, \"sample_tps\": %.2f, \"sample_cpu_tps\": %.2f, "
              "\"train_tflops\": %.4f, \"train_gflop\": %.1f, \"mfu\": %.4f, \"torch\": \"%s\"}\n",
              threads, device_name.c_str(), dtype_name.c_str(), agree, train_s * 1e3, train_cpu * 1e3,
              tokens / sample_s, tokens / sample_cpu, tflops, flops / 1e9, peak_tflops > 0 ? tflops / peak_tflops : 0.0,
              TORCH_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  std::string time_dir, load_dir, device = "cpu", dtype;
  int threads = 1, reps = 2;
  double peak_tflops = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--time") time_dir = value;
    else if (flag == "--load") load_dir = value;
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--reps") reps = std::stoi(value);
    else if (flag == "--device") device = value;
    else if (flag == "--dtype") dtype = value;
    else if (flag == "--peak-tflops") peak_tflops = std::stod(value);
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    if (!load_dir.empty()) load_only(load_dir, dtype.empty() ? "bfloat16" : dtype);
    else if (!time_dir.empty()) time_side(time_dir, threads, reps, device, dtype.empty() ? "float32" : dtype, peak_tflops);
    else {
      std::fprintf(stderr,
                   "usage: qwen_compare --time DIR [--threads N] [--reps R] [--device D] [--dtype T] [--peak-tflops P]\n"
                   "       qwen_compare --load DIR [--dtype T]\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qwen_compare: %s\n", e.what());
    return 1;
  }
  return 0;
}
