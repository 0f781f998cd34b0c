// The step loop every algorithm node runs: resume from the checkpoint in the
// node's resume directory, the steps (timed, counted in train_seconds),
// validation (timed, and its gain over the first one), periodic checkpoints,
// cancellation (checkpoint, then stop resumable), the time limit, the
// published backbone and the summaries. An algorithm gives it only its step
// (a TrainingStep) and the parts the loop drives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common.h"
#include "examples.h"
#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/safetensors.h"
#include "mstar/node.h"
#include "data_parallel.h"
#include "trainer.h"

namespace mstar::algorithms {

using StepMetrics = std::map<std::string, double>;

// What an algorithm gives the TrainingLoop.
class TrainingStep {
 public:
  struct Result {
    StepMetrics metrics;
    double tokens = 0;  // prompt + response tokens the step processed (tokens_per_s)
  };
  virtual ~TrainingStep() = default;

  // Step `step` (from 1): sampling and updates. Timed as time/step and
  // counted in train_seconds.
  virtual Result run(int64_t step) = 0;
  // After the step's metrics are logged, untimed: a progress line, samples.
  // A non-empty return stops training with that reason (after validating).
  virtual std::string after(int64_t /*step*/, const StepMetrics& /*metrics*/, double /*seconds*/,
                            TextLog& /*samples*/) {
    return {};
  }
  // The algorithm's own state in a checkpoint (samplers, generators, counters).
  virtual void save(Json& /*state*/, ml::NamedTensors& /*tensors*/) const {}
  virtual void restore(const Json& /*state*/, const Checkpointer& /*checkpoint*/) {}
};

struct LoopConfig {
  std::string name;  // "algorithm/grpo": names the node in messages
  int64_t total_steps = 1;
  int64_t save_freq = 0;  // checkpoint every N steps; 0 = never (a stopped node starts over)
  double time_limit_minutes = 0;  // 0 = none
  std::string plan;  // logged on a fresh start
  std::vector<std::string> summary_keys;  // the last step's metrics kept as summaries
};

// What the loop drives beside the step.
struct LoopParts {
  ml::Backbone& model;
  Optimizer& optimizer;
  BatchSampler& sampler;  // the training rows: position in checkpoints, `epoch`
  const Validator& validator;
  DataParallel* ranks = nullptr;  // a data-parallel node's; null: one process
};

struct LoopOutcome {
  int64_t steps = 0;
  std::string stop_reason;  // "" = completed
};

// max_steps, else epochs x (rows / batch), at least one step an epoch.
int64_t planned_steps(int64_t max_steps, int64_t epochs, int64_t rows, int64_t batch);

// The checkpoint's model when the node resumes, else the `model` input.
std::unique_ptr<ml::Backbone> load_start_model(NodeContext& ctx, const std::string& device);

class TrainingLoop {
 public:
  TrainingLoop(NodeContext& ctx, LoopConfig config, LoopParts parts);

  // Trains to total_steps (or the time limit, or the step's stop reason),
  // validates at the end, publishes the backbone and records the summaries
  // steps, train_seconds, the summary_keys, val/* and val_gain/* (last
  // validation - the first, when the starting model was validated) and the
  // manifest's stop_reason and steps. Throws Error(Interrupted) when the
  // host cancels the node, after a checkpoint when save_freq > 0.
  LoopOutcome run(TrainingStep& step);

 private:
  void restore(TrainingStep& body);
  void save(const TrainingStep& body);
  void validate(int64_t at);
  void finish(const std::string& stop_reason);
  bool writer() const { return !parts_.ranks || parts_.ranks->writer(); }

  NodeContext& ctx_;
  const LoopConfig config_;
  LoopParts parts_;
  const Checkpointer checkpoint_;
  MetricLog metrics_;
  TextLog samples_;
  int64_t step_ = 0, last_val_ = -1;
  double trained_seconds_ = 0;
  StepMetrics first_val_, last_val_metrics_, last_step_metrics_;
};

}  // namespace mstar::algorithms
