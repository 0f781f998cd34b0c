// The algorithm/grpo node: setup and its step (rollout, update, samples,
// the collapse watch); the TrainingLoop runs the steps.
#include <cmath>
#include <sstream>


#include "common.h"
#include "grpo.h"
#include "mstar/format.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/sampling.h"
#include "mstar/plugin.h"
#include "rollout_log.h"
#include "training_loop.h"

namespace mstar::algorithms {

namespace {

// Longest response the model can take after the longest prompt.
int64_t response_budget(const ml::Backbone& model, const std::vector<Example>& examples, int64_t wanted,
                        Logger& log) {
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
    out << "[answer " << ex.row.answer << (ex.row.level.empty() ? "" : ", " + ex.row.level) << "] "
        << ex.row.raw.value("problem", "") << "\n";
    for (int64_t k = 0; k < n && g * n + k < r.size(); ++k) {
      const auto i = static_cast<size_t>(g * n + k);
      out << "  reward " << r.rewards[i].overall;
      for (const auto& [key, v] : r.rewards[i].components) out << " " << key << "=" << v;
      out << " | " << r.texts[i] << "\n";
    }
  }
  return out.str();
}

// One GRPO step: a rollout and the policy updates on it; between steps the
// samples, the progress line and the collapse watch.
class GrpoStep : public TrainingStep {
 public:
  GrpoStep(GrpoState& state, Optimizer& optimizer, const SftBatches& sft, Logger& log, int64_t total_steps,
           const std::filesystem::path& output_dir)
      : s_(state), optimizer_(optimizer), sft_(sft), log_(log), total_steps_(total_steps), rollouts_(output_dir) {
    collapse_.threshold = state.config.collapse_mixed_share;
    collapse_.patience = state.config.collapse_patience;
  }

  Result run(int64_t step) override {
    s_.timer.reset();
    rollout_ = collect_rollout(s_, step);
    Result out{rollout_.metrics, static_cast<double>(rollout_.prompt_tokens + rollout_.response_tokens)};
    if (rollout_.size() > 0)
      for (const auto& [k, v] : update_policy(s_, rollout_, optimizer_, sft_)) out.metrics[k] = v;
    for (const auto& [phase, t] : s_.timer.seconds()) out.metrics[metric::time(phase)] = t;
    return out;
  }

  std::string after(int64_t step, const StepMetrics& m, double seconds, TextLog& samples) override {
    const GrpoConfig& c = s_.config;
    if (s_.ranks.writer() && c.sample_freq > 0 && (step % c.sample_freq == 0 || step == 1)) {
      samples.append(format_samples(step, rollout_, s_.examples, c.n, c.samples_per_log));
      rollouts_.append(step, rollout_, s_.examples, s_.images, c.n, c.samples_per_log);
    }
    auto value = [&](const char* key) { return m.count(key) ? m.at(key) : 0.0; };
    if (s_.ranks.writer())
      log_.info("step {}/{}: reward {:.3f}, p(T) {:.2f}, mixed groups {:.2f}, {:.1f} s", step, total_steps_,
              value(metric::kRewardMean), value(metric::kPTrue), value(metric::kMixedGroups), seconds);
    // The same on every rank (from the whole batch): the ranks stop together.
    const double mixed_share = rollout_.mixed_share;
    rollout_ = Rollout{};  // the step's tensors are not needed past here
    return collapse_.update(mixed_share);
  }

  // Sampling needs no generator state: each group's seed follows from the
  // node's seed, the step and the group (group_seed).
  void save(Json& state, ml::NamedTensors& /*tensors*/) const override {
    state["low_mixed"] = collapse_.low;
    state["collapse_armed"] = collapse_.armed;
    if (sft_.sampler) state["sft_sampler"] = sft_.sampler->state();
  }

  void restore(const Json& state, const Checkpointer& /*checkpoint*/) override {
    if (sft_.sampler && state.contains("sft_sampler")) sft_.sampler->restore(state.at("sft_sampler"));
    collapse_.low = state.at("low_mixed").get<int64_t>();
    // Checkpoints from before the detector waited to be armed: armed.
    collapse_.armed = state.value("collapse_armed", true);
  }

 private:
  GrpoState& s_;
  Optimizer& optimizer_;
  const SftBatches sft_;
  Logger& log_;
  const int64_t total_steps_;
  Rollout rollout_;
  CollapseDetector collapse_;
  RolloutLog rollouts_;  // beside samples.txt, for mstar serve's rollout browser
};

}  // namespace

class Grpo {
 public:
  static PluginInfo info() {
    PluginInfo i = algorithm_info(
        "grpo",
        "GRPO as MetaphorStar's EasyR1/verl fork runs TFQ-GRPO: n samples per prompt, group-normalised "
        "advantages (unbiased std), the clipped policy loss (asymmetric and dual clip, ratio from log-probs of "
        "logits / temperature), KL to the frozen start in the loss or the reward, token-mean over the "
        "mini-batch, AdamW with grad-norm clip (non-finite norms skip the update). Options: dr_grpo, rloo, "
        "reinforce_plus_plus; exact full-vocabulary KL; answer-slot advantage; DAPO dynamic sampling; a "
        "supervised hybrid term (sft_coef); data-parallel ranks (world_size, balance_batch). Checkpoints into the resume directory and resumes from it. "
        "Defaults are the TFQ run scripts (lr 1e-6 is for 3B-32B models; tiny models: docs/algorithms.md).",
        "the policy to train (and the frozen KL reference)");
    i.params = grpo_param_schema();
    i.inputs.push_back({"sft_data", "dataset", false, "expert rows for sft_coef (default: the data input)"});
    i.inputs.push_back({"val_data", "dataset", false, "a split (world.bench) to validate on every val_freq steps"});
    i.examples = {
        "grpo:\n  plugin: algorithm/grpo\n  inputs: {model: base, data: world.train, val_data: world.bench}\n"
        "  params: {file: tfq.jsonl, n: 8, rollout_batch_size: 32, global_batch_size: 32, lr: 3.0e-4,\n"
        "           kl_penalty: full, kl_coef: 0.1, advantage_mask: answer, balance_answers: true,\n"
        "           max_response_length: 8, reward: {plugin: reward/tfq, format_weight: 0}}"};
    return i;
  }

  void run(NodeContext& ctx) {
    const Params& p = ctx.params();
    const GrpoConfig c = grpo_config(p);  // bad params fail before any model is loaded
    setup_torch(ctx);
    auto& log = ctx.logger();
    const Artifact& data_in = *ctx.input("data");
    DataParallel ranks(p);

    std::unique_ptr<ml::Backbone> model = load_start_model(ctx, c.device);
    if (c.freeze_vision) model->set_trainable(ml::ParamGroup::Vision, false);
    ranks.broadcast_model(*model);
    std::unique_ptr<ml::Backbone> reference;
    if (c.uses_reference()) {
      reference = load_model(*ctx.input("model"), c.device);
      freeze(*reference);
    }
    auto reward = make_component<RewardFunction>(ctx, p.get("reward"));

    const PromptFormat format = prompt_format(p);
    ImageBank images(model->image_size());
    ExampleFilter filter;
    filter.levels = levels_with(c.levels, c.literal_mix);
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
    const int64_t total_steps =
        planned_steps(c.max_steps, c.epochs, static_cast<int64_t>(examples.size()), c.rollout_batch_size);
    const int64_t minis = (c.rollout_batch_size + c.global_batch_size - 1) / c.global_batch_size;
    Optimizer optimizer(trainable_parameters(*model), c.optim, total_steps * minis * c.ppo_epochs);
    BatchSampler sampler(examples, ctx.seed(), c.shuffle, c.balance_answers, c.literal_mix);
    PhaseTimer timer;

    LoopConfig loop;
    loop.name = "algorithm/grpo";
    loop.total_steps = total_steps;
    loop.save_freq = c.save_freq;
    loop.time_limit_minutes = c.time_limit_minutes;
    loop.plan = mstar::format("{} steps of {} prompts x {} samples, {} optimizer updates", total_steps,
                            c.rollout_batch_size, c.n, optimizer.total_updates());
    loop.summary_keys = {metric::kRewardMean, metric::kAccuracy, metric::kPTrue, metric::kMixedGroups};
    GrpoState state{c,       *model, reference.get(), *reward, examples, images, sampler, ctx.seed(),
                    timer,   max_new_tokens, ranks};
    GrpoStep step(state, optimizer, {sft_sampler ? &sft_examples : nullptr, sft_sampler.get(), &sft_images}, log,
                  total_steps, ctx.output_dir());
    const ml::AutocastGuard autocast(model->device(), ml::parse_compute_dtype(p.get_string("dtype")));
    const LoopOutcome outcome = TrainingLoop(ctx, loop, {*model, optimizer, sampler, validator, &ranks}).run(step);
    if (ranks.writer()) ctx.summary("collapsed", outcome.stop_reason.rfind("collapse", 0) == 0 ? 1.0 : 0.0);
  }
};

MSTAR_PLUGIN(Grpo)

}  // namespace mstar::algorithms
