// A checkpoint directory into a model: parameters are allocated empty in the
// target dtype on the target device and filled from the memory-mapped
// safetensors file(s), one tensor at a time (ml::load_checkpoint_into).
#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/safetensors.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

namespace fs = std::filesystem;

std::string canonical_name(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("model.language_model.")) return "model." + name.substr(21);
  if (starts("model.visual.")) return name.substr(6);
  return name;
}

Qwen2_5_VL load_model(const fs::path& dir, torch::Device device, torch::Dtype dtype) {
  const fs::path config_file = dir / "config.json";
  if (!fs::exists(config_file)) throw_io(dir.string() + " is not a Qwen2.5-VL checkpoint: no config.json");
  Json j;
  try {
    j = Json::parse(read_file(config_file));
  } catch (const Json::exception& e) {
    throw_bad_input(config_file.string() + ": not valid JSON: " + e.what());
  }
  const Config config = config_from_json(j, config_file.string());
  Qwen2_5_VL model(config, torch::TensorOptions().dtype(dtype).device(device));
  ml::NamedTensors targets;
  for (const auto& p : model->named_parameters()) targets.emplace_back(p.key(), p.value());
  // Tied checkpoints may still carry lm_head.weight (a copy of the embedding): it is not loaded.
  ml::load_checkpoint_into(dir, targets, [&](const std::string& name) {
    const std::string n = canonical_name(name);
    return config.tie_embeddings && n == "lm_head.weight" ? std::string() : n;
  });
  return model;
}

}  // namespace mstar::qwen2_5_vl
