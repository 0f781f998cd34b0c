// What the GRPO and SFT nodes share: metric names, a metric log that can be
// replayed after a resume, phase timers, AdamW with the learning-rate
// schedule and a guarded gradient step, and checkpoints in the node's
// resume directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/node.h"
#include "rl_math.h"

namespace mstar::algorithms {

// Metric keys: every series either node logs is named here.
namespace metric {
inline constexpr const char* kRewardMean = "reward/mean";
inline constexpr const char* kRewardStd = "reward/std";
inline std::string reward_part(const std::string& component) { return "reward/" + component; }
inline constexpr const char* kAccuracy = "accuracy";        // mean of the reward's "accuracy" part
inline constexpr const char* kFormatRate = "format_rate";   // mean of the reward's "format" part
inline constexpr const char* kLengthMean = "response_length/mean";
inline constexpr const char* kLengthMax = "response_length/max";
inline constexpr const char* kLengthClipped = "response_length/clip_ratio";  // hit max_response_length
inline constexpr const char* kKl = "kl";  // rollout policy vs reference (kl_penalty's estimate), per response token
inline constexpr const char* kEntropy = "entropy";          // mean token entropy of the full distribution
inline constexpr const char* kClipHigher = "clip_frac/higher";
inline constexpr const char* kClipLower = "clip_frac/lower";
inline constexpr const char* kPpoKl = "ppo_kl";
inline constexpr const char* kPgLoss = "pg_loss";
inline constexpr const char* kKlLoss = "kl_loss";  // the aggregated KL term before kl_coef
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kSftLoss = "sft_loss";
inline constexpr const char* kTokenAccuracy = "token_accuracy";
inline constexpr const char* kGradNorm = "grad_norm";
inline constexpr const char* kLr = "lr";
inline constexpr const char* kSkippedUpdates = "skipped_updates";  // non-finite gradient norm
inline constexpr const char* kTokensPerSecond = "tokens_per_s";
inline constexpr const char* kPTrue = "p_true";            // share of sampled answers that are T
inline constexpr const char* kMixedGroups = "mixed_groups";  // share of groups whose rewards differ
inline constexpr const char* kKeptGroups = "dynamic_sampling/kept_groups";
// world_size > 1: the widest gap between two ranks' prompt + response tokens in one mini-batch.
inline constexpr const char* kRankTokenSpread = "balance/token_spread";
inline constexpr const char* kEpoch = "epoch";
inline std::string time(const std::string& phase) { return "time/" + phase; }  // seconds
inline std::string val(const std::string& key) { return "val/" + key; }
inline std::string val_gain(const std::string& key) { return "val_gain/" + key; }  // summary: last - step 0
}  // namespace metric

// ctx.log() that also keeps every point, so that a resumed node re-logs the
// series up to its checkpoint into its new artifact (the registry upserts
// points by key and step: re-logging never duplicates).
class MetricLog {
 public:
  explicit MetricLog(NodeContext& ctx) : ctx_(ctx) {}
  void log(int64_t step, const std::string& key, double value);
  void log_all(int64_t step, const std::map<std::string, double>& values);
  Json history() const { return history_; }
  void replay(const Json& history);

 private:
  NodeContext& ctx_;
  Json history_ = Json::array();  // [[step, key, value], ...]
};

// Wall-clock seconds per named phase of one step.
class PhaseTimer {
 public:
  void start(const std::string& phase);
  void stop();  // ends the running phase (if any)
  std::map<std::string, double> seconds() const { return seconds_; }
  void reset();

 private:
  std::string phase_;
  std::chrono::steady_clock::time_point since_;
  std::map<std::string, double> seconds_;
};

struct OptimizerConfig {
  LrScheduleConfig schedule;
  double weight_decay = 1e-2;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

// AdamW over the trainable parameters, the lr set from the schedule before
// each update, the global gradient norm clipped, and the update skipped
// (gradients dropped) when that norm is not finite, as the reference does.
class Optimizer {
 public:
  Optimizer(std::vector<torch::Tensor> parameters, const OptimizerConfig& config, int64_t total_updates);

  struct StepResult {
    double grad_norm = 0;  // before clipping
    double lr = 0;
    bool skipped = false;
  };
  StepResult step();
  void zero_grad();

  torch::optim::AdamW& adamw() { return *adamw_; }
  const torch::optim::AdamW& adamw() const { return *adamw_; }
  int64_t updates() const { return updates_; }
  void set_updates(int64_t updates) { updates_ = updates; }
  int64_t total_updates() const { return total_; }

 private:
  std::vector<torch::Tensor> parameters_;
  OptimizerConfig config_;
  int64_t total_;
  int64_t updates_ = 0;
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

// The parameters that still require gradients after freezing.
std::vector<torch::Tensor> trainable_parameters(const ml::Backbone& model);

// A checkpoint in the node's resume directory:
//   checkpoint/model/         the backbone (model.safetensors, config.json, tokenizer.json)
//   checkpoint/optimizer.pt   AdamW state
//   checkpoint/tensors.safetensors  random generator states and other tensors
//   checkpoint/state.json     step, sampler positions, metric history, ... (written last)
// A new checkpoint is written beside the old one and swapped in by renames,
// so a kill at any moment leaves one complete checkpoint.
class Checkpointer {
 public:
  explicit Checkpointer(std::filesystem::path resume_dir);

  bool available() const;
  void save(const ml::Backbone& model, const Optimizer& optimizer, const Json& state,
            const std::vector<std::pair<std::string, torch::Tensor>>& tensors) const;

  // Of the available checkpoint.
  Json state() const;
  std::filesystem::path model_dir() const;
  void load_optimizer(Optimizer& optimizer) const;
  torch::Tensor tensor(const std::string& name) const;

 private:
  std::filesystem::path current() const;  // the complete checkpoint directory
  std::filesystem::path root_;
};

// Random generator state as a tensor, and back (a Generator is a handle:
// the copy taken here shares the state).
torch::Tensor generator_state(torch::Generator generator);
void set_generator_state(torch::Generator generator, const torch::Tensor& state);

// Appends text to a file of the artifact (sample responses), keeping a copy
// for checkpoints.
class TextLog {
 public:
  explicit TextLog(std::filesystem::path file) : file_(std::move(file)) {}
  void append(const std::string& text);
  const std::string& text() const { return text_; }
  void restore(const std::string& text);  // rewrites the file

 private:
  std::filesystem::path file_;
  std::string text_;
};

}  // namespace mstar::algorithms
