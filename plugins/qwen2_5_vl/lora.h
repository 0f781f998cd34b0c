// LoRA adapters on the model's Linear layers, read and written in peft's
// layout: adapter_config.json (LoraConfig's keys) and
// adapter_model.safetensors with peft's tensor names,
// base_model.model.<transformers module name>.lora_A.weight / .lora_B.weight
// (transformers 5 names: model.language_model.*, model.visual.*, lm_head).
// An adapted Linear computes, as peft's lora.Linear does,
//   y = x W^T + b + (alpha / r) * B A dropout(x)
// with A [r, in] and B [out, r] kept in float32 when the base is bf16/fp16
// (peft's autocast_adapter_dtype).
#pragma once

#include <filesystem>
#include <string>

#include "mstar/ml/safetensors.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

inline constexpr const char* kAdapterConfigFile = "adapter_config.json";
inline constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";

struct LoraAdapter {
  torch::Tensor a, b;  // the Linear's lora_A.weight [r, in], lora_B.weight [out, r]
  double scaling = 1.0, dropout = 0.0;
};

// The adapter's term of an adapted Linear (dropout only in training).
torch::Tensor lora_delta(const LoraAdapter& adapter, const torch::Tensor& x, bool training);

// transformers' (and so peft's) name of a module or parameter of this model:
// model.X -> model.language_model.X, visual.X -> model.visual.X.
std::string hf_name(const std::string& name);
// The adapter tensor name in peft's file of this model's parameter name.
std::string peft_name(const std::string& parameter_name);
bool is_adapter_parameter(const std::string& name);

// Adapters on every Linear whose transformers name matches a target (peft's
// rule for a list: equal, or ending in "." + target), initialised as
// options.init says; every other parameter is frozen. A target matching no
// Linear is Error(BadInput). Returns how many Linears were adapted.
int64_t add_adapters(Qwen2_5_VL& model, const LoraOptions& options);
// The model to `device` and `dtype`, adapters kept in float32 when `dtype` is bf16 or fp16.
void move_model(Qwen2_5_VL& model, torch::Device device, torch::Dtype dtype);

// Options from peft's adapter_config.json; what mstar does not implement
// (DoRA, rsLoRA, per-module ranks, regex targets, bias) is Error(BadInput).
LoraOptions lora_from_peft_config(const Json& j, const std::string& origin);
Json peft_config(const LoraOptions& options);
// mstar's config.json "lora" section (a record: loading reads the adapter files).
Json to_json(const LoraOptions& options);

// adapter_config.json and adapter_model.safetensors into `dir`.
void save_adapter(const Qwen2_5_VL& model, const LoraOptions& options, const std::filesystem::path& dir);
// The adapter in `dir` attached to `model` (the base, loaded already).
// Missing or unexpected tensors and shapes that do not fit the model (another
// rank, another base) are Error(BadInput) naming the file and the tensor.
LoraOptions load_adapter(Qwen2_5_VL& model, const std::filesystem::path& dir);

}  // namespace mstar::qwen2_5_vl
