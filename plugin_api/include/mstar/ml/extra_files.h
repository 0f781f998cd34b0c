// A backbone whose checkpoints hold files besides model.safetensors,
// config.json and tokenizer.json (qwen2_5_vl: a LoRA adapter in peft's
// layout) implements this beside ml::Backbone; Backbone::save finds it by
// dynamic_cast and calls it before writing config.json, so a directory with
// config.json is complete. Kept out of backbone.h so that backbones without
// extra files are untouched.
#pragma once

#include <filesystem>

namespace mstar::ml {

class SavesExtraFiles {
 public:
  virtual ~SavesExtraFiles();
  virtual void save_extra_files(const std::filesystem::path& dir) const = 0;
};

}  // namespace mstar::ml
