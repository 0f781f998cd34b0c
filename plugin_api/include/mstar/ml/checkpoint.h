// Training state beside a backbone checkpoint, and the device/dtype names
// used in params and config.json.
//
//   model->save(dir);                                  // model.safetensors, config.json, tokenizer.json
//   save_optimizer(optimizer, dir / kOptimizerFile);   // optimizer.pt (torch::save)
//   ... restart ...
//   auto model = load_backbone(dir);
//   torch::optim::AdamW optimizer(model->parameters(), options);
//   load_optimizer(optimizer, dir / kOptimizerFile);   // same parameters, same order
#pragma once

#include <filesystem>
#include <string>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

namespace mstar::ml {

// Atomic (temporary file + rename). Throws Error(Io) naming the file.
void save_optimizer(const torch::optim::Optimizer& optimizer, const std::filesystem::path& file);
// Throws Error(Io) when absent or unreadable, Error(BadInput) when it does
// not match the optimizer's parameter groups.
void load_optimizer(torch::optim::Optimizer& optimizer, const std::filesystem::path& file);

// Sets the thread budget of everything LibTorch computes with: its intra-op
// pool (torch::set_num_threads) and OpenBLAS's own pool, which LibTorch does
// not size (Debian's LibTorch links OpenBLAS, whose pthread build otherwise
// starts one thread per core: a node told to use 1 thread would run GEMMs
// on all cores and oversubscribe a machine shared by parallel nodes).
// Nodes call it with ctx.threads().
void set_num_threads(int threads);

// "cpu", "cuda", "cuda:N", or "auto" (the first GPU when there is one,
// else the CPU). A CUDA device this process cannot use is an Error(BadInput)
// naming the device and how many the process sees.
torch::Device parse_device(const std::string& name);
// "float32" | "float" | "bfloat16" | "bf16" | "float16" | "half". Throws Error(BadInput).
torch::Dtype parse_dtype(const std::string& name);
// "float32", "bfloat16", "float16", ... (the Hugging Face "torch_dtype" spelling).
std::string dtype_name(torch::Dtype dtype);

// The compute precisions a node's `dtype` param offers: "float32" or
// "bfloat16". Throws Error(BadInput) naming `key` and the choices.
torch::Dtype parse_compute_dtype(const std::string& name, const std::string& key = "dtype");

// Mixed precision for the scope of a training or sampling loop on `device`:
// with bfloat16, LibTorch's autocast runs matrix products and attention in
// bfloat16 while parameters, optimizer state, softmax and reductions stay
// float32 (the usual recipe on GPUs); with float32 it does nothing, so CPU
// results are those of plain float32. Restores the previous autocast state
// on exit. Autocast is per thread: the guard covers the thread that made it.
class AutocastGuard {
 public:
  AutocastGuard(torch::Device device, torch::Dtype dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false, was_caching_ = true;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace mstar::ml
