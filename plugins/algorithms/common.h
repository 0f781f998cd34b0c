// Pieces both algorithm nodes use: shared params (prompt, optimizer,
// validation, checkpoints), loading inputs, validation on T/F statements
// (accuracy and balanced accuracy, per level), and publishing the trained
// backbone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "examples.h"
#include "mstar/artifact.h"
#include "mstar/ml/backbone.h"
#include "mstar/node.h"
#include "mstar/params.h"
#include "mstar/plugin.h"
#include "mstar/reward.h"
#include "trainer.h"
#include "val_answers.h"

namespace mstar::algorithms {

// kind algorithm, the inputs `model` (a backbone; `model_doc` says its role)
// and `data`, and the trained backbone as the output; the node adds its
// params, optional inputs and examples.
PluginInfo algorithm_info(const std::string& name, const std::string& description, const std::string& model_doc);

struct OptimizerDefaults {
  double lr = 1e-6;
  const char* schedule = "constant";
  double warmup_ratio = 0.0;
  double weight_decay = 1e-2;
};

// format_prompt, system_prompt, levels.
void add_prompt_params(ParamSchema& schema, const char* levels_doc);
// lr, lr_schedule, lr_warmup_ratio, min_lr_ratio, weight_decay, max_grad_norm, betas.
void add_optimizer_params(ParamSchema& schema, const OptimizerDefaults& defaults);
OptimizerConfig optimizer_config(const Params& params);
// val_* params of the optional `val_data` input.
void add_validation_params(ParamSchema& schema);
// device, freeze_vision, save_freq, sample_freq.
void add_run_params(ParamSchema& schema, int64_t save_freq);

// The JSONL file `name` of a dataset input: DIR/name, or DIR/train/name when
// the whole dataset artifact is wired. Throws BadInput listing what is there.
std::filesystem::path data_file(const Artifact& data, const std::string& name);

// Loads the `model` input (or a checkpoint's model) on the `device` param's
// device ("" = as saved).
std::unique_ptr<ml::Backbone> load_model(const std::filesystem::path& dir, const std::string& device);
std::unique_ptr<ml::Backbone> load_model(const Artifact& artifact, const std::string& device);

// Freezes every parameter (a reference model).
void freeze(ml::Backbone& model);

// model.safetensors + config.json + tokenizer.json into the artifact, and
// the manifest fields of a backbone.
void publish_backbone(NodeContext& ctx, const ml::Backbone& model);

// Threads and seeds as the contract asks: torch uses ctx.threads(), the
// global generator starts from ctx.seed().
void setup_torch(NodeContext& ctx);

struct ValidationConfig {
  std::string file;
  std::vector<std::string> levels;
  int64_t max_rows = 0;
  double temperature = 0.5;  // 0 = greedy
  double top_p = 0.99;
  int64_t max_new_tokens = 0;
  int64_t batch = 64;
  int64_t freq = 5;
  bool before_train = true;
  uint64_t seed = 0;
};

// Generates one answer per T/F statement of the `val_data` input and judges
// it as val_answers says (val_answers.h: by default the accuracy part of the
// reward, as the reference's trainer). Reports accuracy, balanced accuracy
// (mean of the true-positive and true-negative rates), the share of T
// answers and of answered rows, format rate, the reward's mean (reward mode),
// and per level the same. Uses its own random generator: validation never
// changes training.
class Validator {
 public:
  // `reward`: the training reward (GRPO), whose accuracy part judges the
  // answers in reward mode; when it is null (SFT) or reports no accuracy
  // part, reward/tfq with its defaults does.
  Validator(NodeContext& ctx, const Params& params, const ml::Backbone& model, const PromptFormat& format,
            int64_t default_max_new_tokens, std::shared_ptr<const RewardFunction> reward = nullptr);
  bool enabled() const { return !examples_.empty(); }
  bool due(int64_t step, bool last) const;
  bool before_train() const { return enabled() && config_.before_train; }
  // Metric values keyed without the "val/" prefix.
  std::map<std::string, double> run(ml::Backbone& model) const;

 private:
  ValidationConfig config_;
  AnswerJudge judge_;
  ImageBank images_{0};
  std::vector<Example> examples_;
};

}  // namespace mstar::algorithms
