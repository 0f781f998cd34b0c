// The algorithm/grpo node: setup, the step loop (rollout, update, metrics,
// samples, validation, checkpoints) and the published backbone.
#include <chrono>
#include <cmath>
#include <sstream>

#include <spdlog/spdlog.h>

#include "common.h"
#include "grpo.h"
#include "mstar/error.h"
#include "mstar/ml/sampling.h"
#include "mstar/plugin.h"

namespace mstar::algorithms {

namespace {

constexpr const char* kSamplesFile = "samples.txt";

// Longest response the model can take after the longest prompt.
int64_t response_budget(const ml::Backbone& model, const std::vector<Example>& examples, int64_t wanted,
                        spdlog::logger& log) {
  const Json cfg = model.config();
  int64_t positions = 0;
  if (cfg.contains("text_config") && cfg["text_config"].contains("max_position_embeddings"))
    positions = cfg["text_config"]["max_position_embeddings"].get<int64_t>();
  if (positions <= 0) return wanted;
  size_t longest = 0;
  for (const auto& ex : examples) longest = std::max(longest, ex.prompt.size());
  const int64_t room = positions - static_cast<int64_t>(longest);
  if (room < 1) throw_bad_input("prompts of " + std::to_string(longest) + " tokens leave no room in the model's " +
                                std::to_string(positions) + " positions");
  if (room >= wanted) return wanted;
  log.warn("max_response_length {} capped to {}: the longest prompt has {} tokens of the model's {} positions", wanted,
           room, longest, positions);
  return room;
}

std::string format_samples(int64_t step, const Rollout& r, const std::vector<Example>& examples, int64_t n,
                           int64_t groups) {
  std::ostringstream out;
  out << "=== step " << step << " ===\n";
  for (int64_t g = 0; g < groups && g * n < r.size(); ++g) {
    const Example& ex = examples[static_cast<size_t>(r.rows[static_cast<size_t>(g * n)])];
    out << "[answer " << ex.answer << (ex.level.empty() ? "" : ", " + ex.level) << "] "
        << ex.sample.value("problem", "") << "\n";
    for (int64_t k = 0; k < n && g * n + k < r.size(); ++k) {
      const auto i = static_cast<size_t>(g * n + k);
      out << "  reward " << r.rewards[i].overall;
      for (const auto& [key, v] : r.rewards[i].components) out << " " << key << "=" << v;
      out << " | " << r.texts[i] << "\n";
    }
  }
  return out.str();
}

}  // namespace

class Grpo {
 public:
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "algorithm";
    i.name = "grpo";
    i.version = "1";
    i.description =
        "GRPO as MetaphorStar's EasyR1/verl fork runs TFQ-GRPO: n samples per prompt, group-normalised "
        "advantages (unbiased std), the clipped policy loss (asymmetric and dual clip, ratio from log-probs of "
        "logits / temperature), KL to the frozen start in the loss or the reward, token-mean over the "
        "mini-batch, AdamW with grad-norm clip (non-finite norms skip the update). Options: dr_grpo, rloo, "
        "reinforce_plus_plus; exact full-vocabulary KL; answer-slot advantage; DAPO dynamic sampling; a "
        "supervised hybrid term (sft_coef). Checkpoints into the resume directory and resumes from it. "
        "Defaults are the TFQ run scripts (lr 1e-6 is for 3B-32B models; tiny models: docs/algorithms.md).";
    i.params = grpo_param_schema();
    i.inputs = {{"model", "backbone", true, "the policy to train (and the frozen KL reference)"},
                {"data", "dataset", true, "a dataset split (world.train) holding `file`"},
                {"sft_data", "dataset", false, "expert rows for sft_coef (default: the data input)"},
                {"val_data", "dataset", false, "a split (world.bench) to validate on every val_freq steps"}};
    i.outputs = {{"", "backbone", "the trained model (model.safetensors, config.json, tokenizer.json), samples.txt"}};
    i.examples = {
        "grpo:\n  plugin: algorithm/grpo\n  inputs: {model: base, data: world.train, val_data: world.bench}\n"
        "  params: {file: tfq.jsonl, n: 8, rollout_batch_size: 32, global_batch_size: 32, lr: 3.0e-4,\n"
        "           kl_penalty: full, kl_coef: 0.1, advantage_mask: answer, balance_answers: true,\n"
        "           max_response_length: 8, reward: {plugin: reward/tfq, format_weight: 0}}"};
    return i;
  }

  void run(NodeContext& ctx) {
    setup_torch(ctx);
    const Params& p = ctx.params();
    const GrpoConfig c = grpo_config(p);
    auto& log = ctx.logger();
    const Artifact& model_in = *ctx.input("model");
    const Artifact& data_in = *ctx.input("data");

    const Checkpointer checkpoint(ctx.resume_dir());
    const bool resuming = checkpoint.available();
    std::unique_ptr<ml::Backbone> model =
        resuming ? load_model(checkpoint.model_dir(), c.device) : load_model(model_in, c.device);
    if (c.freeze_vision) model->set_trainable(ml::ParamGroup::Vision, false);
    std::unique_ptr<ml::Backbone> reference;
    if (c.uses_reference()) {
      reference = load_model(model_in, c.device);
      freeze(*reference);
    }
    auto reward = make_component<RewardFunction>(ctx, p.get("reward"));

    const PromptFormat format = prompt_format(p);
    ImageBank images(model->image_size());
    ExampleFilter filter;
    filter.levels = c.levels;
    filter.max_prompt_length = c.max_prompt_length;
    LoadReport report;
    const std::vector<Example> examples = load_examples(data_file(data_in, c.file), *model, images, format, filter, &report);
    log.info("{}: {} rows, {} kept ({} filtered by level, {} prompts too long), {} images", c.file, report.rows,
             report.kept, report.filtered, report.too_long, images.count());

    std::vector<Example> sft_examples;
    ImageBank sft_images(model->image_size());
    std::unique_ptr<BatchSampler> sft_sampler;
    if (c.sft_coef > 0) {
      const Artifact& src = ctx.input("sft_data") ? *ctx.input("sft_data") : data_in;
      ExampleFilter f;
      f.need_response = true;
      sft_examples = load_examples(data_file(src, c.sft_file), *model, sft_images, format, f);
      sft_sampler = std::make_unique<BatchSampler>(sft_examples, ctx.seed() ^ 0x5F7ull, true, false);
      log.info("hybrid: sft_coef {} on {} expert rows of {}", c.sft_coef, sft_examples.size(), c.sft_file);
    }

    const int64_t max_new_tokens = response_budget(*model, examples, c.max_response_length, log);
    const Validator validator(ctx, p, *model, format, max_new_tokens, reward);
    const int64_t rows = static_cast<int64_t>(examples.size());
    const int64_t total_steps = c.max_steps > 0 ? c.max_steps : c.epochs * std::max<int64_t>(1, rows / c.rollout_batch_size);
    const int64_t minis = (c.rollout_batch_size + c.global_batch_size - 1) / c.global_batch_size;
    Optimizer optimizer(trainable_parameters(*model), c.optim, total_steps * minis * c.ppo_epochs);
    BatchSampler sampler(examples, ctx.seed(), c.shuffle, c.balance_answers);
    torch::Generator generator = ml::make_generator(ctx.seed());
    MetricLog metrics(ctx);
    TextLog samples(ctx.output_dir() / kSamplesFile);
    PhaseTimer timer;

    int64_t step = 0, low_mixed = 0, last_val = -1;
    double trained_seconds = 0;
    std::string stop_reason;
    std::map<std::string, double> first_val_metrics, last_val_metrics, last_step_metrics;
    auto validate = [&](int64_t at) {
      auto started = std::chrono::steady_clock::now();
      last_val_metrics = validator.run(*model);
      if (at == 0) first_val_metrics = last_val_metrics;
      for (const auto& [k, v] : last_val_metrics) metrics.log(at, metric::val(k), v);
      metrics.log(at, metric::time("validation"),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      last_val = at;
      log.info("step {}: val balanced accuracy {:.4f}, accuracy {:.4f}", at, last_val_metrics["balanced_accuracy"],
               last_val_metrics["accuracy"]);
    };
    auto save = [&] {
      Json state = {{"step", step},          {"updates", optimizer.updates()}, {"sampler", sampler.state()},
                    {"low_mixed", low_mixed}, {"trained_seconds", trained_seconds}, {"last_val", last_val},
                    {"metrics", metrics.history()}, {"samples", samples.text()},
                    {"first_val", first_val_metrics}};
      if (sft_sampler) state["sft_sampler"] = sft_sampler->state();
      checkpoint.save(*model, optimizer, state, {{"generator", generator_state(generator)}});
    };

    if (resuming) {
      const Json state = checkpoint.state();
      step = state.at("step").get<int64_t>();
      sampler.restore(state.at("sampler"));
      if (sft_sampler && state.contains("sft_sampler")) sft_sampler->restore(state.at("sft_sampler"));
      checkpoint.load_optimizer(optimizer);
      optimizer.set_updates(state.at("updates").get<int64_t>());
      set_generator_state(generator, checkpoint.tensor("generator"));
      low_mixed = state.at("low_mixed").get<int64_t>();
      trained_seconds = state.at("trained_seconds").get<double>();
      last_val = state.at("last_val").get<int64_t>();
      first_val_metrics = state.at("first_val").get<std::map<std::string, double>>();
      metrics.replay(state.at("metrics"));
      samples.restore(state.at("samples").get<std::string>());
      log.info("resumed from the checkpoint of step {} of {}", step, total_steps);
    } else {
      log.info("{} steps of {} prompts x {} samples, {} optimizer updates", total_steps, c.rollout_batch_size, c.n,
               optimizer.total_updates());
      if (validator.before_train()) validate(0);
    }

    GrpoState state{c, *model, reference.get(), *reward, examples, images, sampler, generator, timer, max_new_tokens};
    const SftBatches sft{sft_sampler ? &sft_examples : nullptr, sft_sampler.get(), &sft_images};
    while (step < total_steps) {
      if (ctx.cancelled()) {
        if (c.save_freq > 0) save();
        throw Error(ErrorCategory::Interrupted, "algorithm/grpo stopped at step " + std::to_string(step) +
                                                    (c.save_freq > 0 ? "; it resumes from there" : ""));
      }
      if (c.time_limit_minutes > 0 && trained_seconds >= 60.0 * c.time_limit_minutes) {
        stop_reason = "time limit";
        break;
      }
      ++step;
      timer.reset();
      const auto started = std::chrono::steady_clock::now();
      const Rollout r = collect_rollout(state);
      std::map<std::string, double> m = r.metrics;
      if (r.size() > 0)
        for (const auto& [k, v] : update_policy(state, r, optimizer, sft)) m[k] = v;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      trained_seconds += seconds;
      for (const auto& [phase, t] : timer.seconds()) m[metric::time(phase)] = t;
      m[metric::time("step")] = seconds;
      m[metric::kTokensPerSecond] = static_cast<double>(r.prompt_tokens + r.response_tokens) / std::max(seconds, 1e-9);
      m[metric::kEpoch] = sampler.epoch();
      metrics.log_all(step, m);
      last_step_metrics = m;
      if (c.sample_freq > 0 && (step % c.sample_freq == 0 || step == 1))
        samples.append(format_samples(step, r, examples, c.n, c.samples_per_log));
      log.info("step {}/{}: reward {:.3f}, p(T) {:.2f}, mixed groups {:.2f}, {:.1f} s", step, total_steps,
               m[metric::kRewardMean], m[metric::kPTrue], m[metric::kMixedGroups], seconds);

      if (c.collapse_mixed_share > 0) {
        low_mixed = r.mixed_share < c.collapse_mixed_share ? low_mixed + 1 : 0;
        if (low_mixed >= c.collapse_patience)
          stop_reason = "collapse: mixed-reward groups below " + std::to_string(c.collapse_mixed_share) + " for " +
                        std::to_string(low_mixed) + " steps";
      }
      const bool last = step == total_steps || !stop_reason.empty();
      if (validator.due(step, last)) validate(step);
      if (!stop_reason.empty()) break;
      if (c.save_freq > 0 && step % c.save_freq == 0 && step < total_steps) save();
    }
    if (validator.enabled() && last_val != step) validate(step);
    if (!stop_reason.empty()) log.warn("stopped early at step {}: {}", step, stop_reason);

    publish_backbone(ctx, *model);
    ctx.annotate("stop_reason", stop_reason.empty() ? "completed" : stop_reason);
    ctx.annotate("steps", step);
    ctx.summary("steps", static_cast<double>(step));
    ctx.summary("collapsed", stop_reason.rfind("collapse", 0) == 0 ? 1.0 : 0.0);
    ctx.summary("train_seconds", trained_seconds);
    for (const char* key : {metric::kRewardMean, metric::kAccuracy, metric::kPTrue, metric::kMixedGroups})
      if (last_step_metrics.count(key)) ctx.summary(key, last_step_metrics[key]);
    for (const auto& [k, v] : last_val_metrics) {
      ctx.summary(metric::val(k), v);
      // The gain over the starting model (val_before_train), for `mstar results` over seeds.
      if (first_val_metrics.count(k)) ctx.summary(metric::val_gain(k), v - first_val_metrics[k]);
    }
  }
};

MSTAR_PLUGIN(Grpo)

}  // namespace mstar::algorithms
