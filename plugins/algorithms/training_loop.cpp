#include "training_loop.h"

#include <algorithm>
#include <chrono>

#include "mstar/error.h"

namespace mstar::algorithms {

namespace {

constexpr const char* kSamplesFile = "samples.txt";

double seconds_since(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

int64_t planned_steps(int64_t max_steps, int64_t epochs, int64_t rows, int64_t batch) {
  return max_steps > 0 ? max_steps : epochs * std::max<int64_t>(1, rows / batch);
}

std::unique_ptr<ml::Backbone> load_start_model(NodeContext& ctx, const std::string& device) {
  const Checkpointer checkpoint(ctx.resume_dir());
  if (checkpoint.available()) return load_model(checkpoint.model_dir(), device);
  const Artifact* model = ctx.input("model");
  if (!model) throw_bad_input("input `model` (a backbone) is required");
  return load_model(*model, device);
}

TrainingLoop::TrainingLoop(NodeContext& ctx, LoopConfig config, LoopParts parts)
    : ctx_(ctx),
      config_(std::move(config)),
      parts_(parts),
      checkpoint_(ctx.resume_dir()),
      metrics_(ctx),
      samples_(ctx.output_dir() / kSamplesFile) {}

LoopOutcome TrainingLoop::run(TrainingStep& body) {
  const Validator& validator = parts_.validator;
  if (checkpoint_.available()) {
    restore(body);
  } else {
    ctx_.logger().info("{}", config_.plan);
    if (validator.before_train()) validate(0);
  }

  std::string stop_reason;
  while (step_ < config_.total_steps) {
    bool cancelled = ctx_.cancelled();
    bool over_time = config_.time_limit_minutes > 0 && trained_seconds_ >= 60.0 * config_.time_limit_minutes;
    // Ranks stop together: one that stopped alone would leave the others in a collective.
    if (parts_.ranks) parts_.ranks->any({&cancelled, &over_time});
    if (cancelled) {
      if (config_.save_freq > 0) save(body);
      throw Error(ErrorCategory::Interrupted, config_.name + " stopped at step " + std::to_string(step_) +
                                                  (config_.save_freq > 0 ? "; it resumes from there" : ""));
    }
    if (over_time) {
      stop_reason = "time limit";
      break;
    }
    ++step_;
    const auto started = std::chrono::steady_clock::now();
    TrainingStep::Result r = body.run(step_);
    const double seconds = seconds_since(started);
    trained_seconds_ += seconds;
    StepMetrics& m = r.metrics;
    m[metric::time("step")] = seconds;
    m[metric::kTokensPerSecond] = r.tokens / std::max(seconds, 1e-9);
    m[metric::kEpoch] = parts_.sampler.epoch();
    metrics_.log_all(step_, m);
    last_step_metrics_ = m;
    stop_reason = body.after(step_, m, seconds, samples_);

    if (validator.due(step_, step_ == config_.total_steps || !stop_reason.empty())) validate(step_);
    if (!stop_reason.empty()) break;
    if (config_.save_freq > 0 && step_ % config_.save_freq == 0 && step_ < config_.total_steps) save(body);
  }
  if (validator.enabled() && last_val_ != step_) validate(step_);
  if (!stop_reason.empty()) ctx_.logger().warn("stopped early at step {}: {}", step_, stop_reason);
  finish(stop_reason);
  return {step_, stop_reason};
}

void TrainingLoop::validate(int64_t at) {
  if (!writer()) return;
  const auto started = std::chrono::steady_clock::now();
  last_val_metrics_ = parts_.validator.run(parts_.model);
  if (at == 0) first_val_ = last_val_metrics_;
  for (const auto& [k, v] : last_val_metrics_) metrics_.log(at, metric::val(k), v);
  metrics_.log(at, metric::time("validation"), seconds_since(started));
  last_val_ = at;
  ctx_.logger().info("step {}: val balanced accuracy {:.4f}, accuracy {:.4f}", at,
                     last_val_metrics_["balanced_accuracy"], last_val_metrics_["accuracy"]);
}

void TrainingLoop::save(const TrainingStep& body) {
  if (!writer()) return;
  Json state = {{"step", step_},
                {"updates", parts_.optimizer.updates()},
                {"sampler", parts_.sampler.state()},
                {"trained_seconds", trained_seconds_},
                {"last_val", last_val_},
                {"first_val", first_val_},
                {"metrics", metrics_.history()},
                {"samples", samples_.text()}};
  ml::NamedTensors tensors;
  body.save(state, tensors);
  checkpoint_.save(parts_.model, parts_.optimizer, state, tensors);
}

void TrainingLoop::restore(TrainingStep& body) {
  const Json state = checkpoint_.state();
  step_ = state.at("step").get<int64_t>();
  parts_.sampler.restore(state.at("sampler"));
  checkpoint_.load_optimizer(parts_.optimizer);
  parts_.optimizer.set_updates(state.at("updates").get<int64_t>());
  trained_seconds_ = state.at("trained_seconds").get<double>();
  last_val_ = state.at("last_val").get<int64_t>();
  // SFT checkpoints before the shared loop kept no first validation.
  if (state.contains("first_val")) first_val_ = state.at("first_val").get<StepMetrics>();
  body.restore(state, checkpoint_);
  metrics_.replay(state.at("metrics"));
  samples_.restore(state.at("samples").get<std::string>());
  ctx_.logger().info("resumed from the checkpoint of step {} of {}", step_, config_.total_steps);
}

void TrainingLoop::finish(const std::string& stop_reason) {
  if (!writer()) return;
  publish_backbone(ctx_, parts_.model);
  ctx_.annotate("stop_reason", stop_reason.empty() ? "completed" : stop_reason);
  ctx_.annotate("steps", step_);
  ctx_.summary("steps", static_cast<double>(step_));
  ctx_.summary("train_seconds", trained_seconds_);
  for (const std::string& key : config_.summary_keys)
    if (last_step_metrics_.count(key)) ctx_.summary(key, last_step_metrics_[key]);
  for (const auto& [k, v] : last_val_metrics_) {
    ctx_.summary(metric::val(k), v);
    // The gain over the starting model (val_before_train), for `mstar results` over seeds.
    if (first_val_.count(k)) ctx_.summary(metric::val_gain(k), v - first_val_[k]);
  }
}

}  // namespace mstar::algorithms
