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

}  // namespace mstar::ml
