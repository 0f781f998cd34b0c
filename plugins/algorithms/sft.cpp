// The algorithm/sft node: masked cross-entropy on response tokens, used to
// pretrain a base on the literal corpus (pretrain.jsonl) and for TFQ-SFT on
// expert trajectories (sft.jsonl). Checkpoints and resumes like GRPO.
#include <chrono>
#include <sstream>

#include <spdlog/spdlog.h>

#include "common.h"
#include "mstar/error.h"
#include "mstar/ml/sampling.h"
#include "mstar/plugin.h"
#include "supervised.h"

namespace mstar::algorithms {

namespace {

// Greedy responses to the first rows, beside their targets.
std::string greedy_samples(ml::Backbone& model, const std::vector<Example>& examples, const ImageBank& images,
                           int64_t count, int64_t step, int64_t max_new_tokens) {
  torch::NoGradGuard no_grad;
  const bool training = model.is_training();
  model.eval();
  std::ostringstream out;
  out << "=== step " << step << " ===\n";
  const auto rows = std::min<size_t>(examples.size(), static_cast<size_t>(count));
  for (size_t i = 0; i < rows; ++i) {
    const Example& ex = examples[i];
    ml::Batch batch = ml::pad_batch({ex.prompt}, model.pad_token_id(), ml::PadSide::Left);
    batch.images = images.batch({ex.image});
    ml::SamplingOptions options;
    options.greedy = true;
    options.max_new_tokens = max_new_tokens;
    options.compute_entropies = false;
    ml::Generation g = model.generate(batch, options);
    const int64_t len = g.lengths[0].item<int64_t>();
    torch::Tensor ids = g.tokens[0].narrow(0, 0, len).cpu().contiguous();
    const std::vector<int64_t> v(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + len);
    out << ex.sample.value("problem", "") << "\n  target: " << model.decode_response(ex.response)
        << "\n  greedy: " << model.decode_response(v) << "\n";
  }
  model.train(training);
  return out.str();
}

}  // namespace

class Sft {
 public:
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "algorithm";
    i.name = "sft";
    i.version = "1";
    i.description =
        "Supervised fine-tuning: cross-entropy on response tokens only (the token mean over each batch), AdamW "
        "with warmup and a cosine or constant schedule, grad-norm clip. Pretrains a base on the literal corpus "
        "(file: pretrain.jsonl) or trains TFQ-SFT on expert trajectories (file: sft.jsonl); feeds algorithm/grpo "
        "in the SFT->GRPO hybrid. Logs loss, token accuracy and entropy; checkpoints and resumes.";
    ParamSchema& s = i.params;
    s.add(ParamSpec::string("file").def("sft.jsonl").describe(
        "JSONL of the data input with \"problem\", \"response\" and optional \"images\" (pretrain.jsonl, sft.jsonl)"));
    s.add(ParamSpec::list("kinds", "string").def(Json::array()).describe(
        "keep rows of these \"kind\"s only (pretrain.jsonl: caption, literal, vqa, culture); empty = all"));
    add_prompt_params(s, "keep rows of these levels only (empty = all)");
    s.add(ParamSpec::integer("epochs").def(3).range(1, 1 << 20).describe("passes over the rows"))
        .add(ParamSpec::integer("max_steps").def(0).range(0, 1 << 30).describe("optimizer steps; 0 = epochs x rows / batch_size"))
        .add(ParamSpec::real("time_limit_minutes").def(0.0).range(0, 1e7).describe("stop (and save) after this long; 0 = none"))
        .add(ParamSpec::integer("batch_size").def(16).range(1, 1 << 20).describe("rows per optimizer step"))
        .add(ParamSpec::integer("micro_batch_size").def(16).range(1, 1 << 20).describe("rows per forward/backward"))
        .add(ParamSpec::boolean("shuffle").def(true).describe("reshuffle every epoch (seeded)"))
        .add(ParamSpec::integer("max_prompt_length").def(0).range(0, 1 << 24).describe("drop longer prompts; 0 = keep all"))
        .add(ParamSpec::integer("max_response_length").def(2048).range(1, 1 << 24).describe("cut longer responses"))
        .add(ParamSpec::string("response_template").def("").describe(
            "build each target from the row's answer, e.g. \"<answer>{answer}</answer>\" (direct-answer SFT on "
            "tfq.jsonl); empty = the row's \"response\""))
        .add(ParamSpec::integer("samples_per_log").def(4).range(0, 1 << 16).describe("rows answered greedily in samples.txt"));
    add_optimizer_params(s, OptimizerDefaults{1e-5, "cosine", 0.1, 1e-2});
    add_run_params(s, 50);
    add_validation_params(s);
    i.inputs = {{"model", "backbone", true, "the model to train"},
                {"data", "dataset", true, "a dataset split (world.train) holding `file`"},
                {"val_data", "dataset", false, "a split (world.bench) to validate T/F answers on"}};
    i.outputs = {{"", "backbone", "the trained model (model.safetensors, config.json, tokenizer.json), samples.txt"}};
    i.examples = {
        "base:\n  plugin: algorithm/sft\n  inputs: {model: init, data: world.train}\n"
        "  params: {file: pretrain.jsonl, epochs: 3, batch_size: 32, lr: 1.0e-3}"};
    return i;
  }

  void run(NodeContext& ctx) {
    setup_torch(ctx);
    const Params& p = ctx.params();
    auto& log = ctx.logger();
    const Checkpointer checkpoint(ctx.resume_dir());
    const bool resuming = checkpoint.available();
    const std::string device = p.get_string("device");
    std::unique_ptr<ml::Backbone> model =
        resuming ? load_model(checkpoint.model_dir(), device) : load_model(*ctx.input("model"), device);
    if (p.get_bool("freeze_vision")) model->set_trainable(ml::ParamGroup::Vision, false);

    const PromptFormat format = prompt_format(p);
    ImageBank images(model->image_size());
    ExampleFilter filter;
    filter.levels = string_list(p.get("levels"));
    filter.kinds = string_list(p.get("kinds"));
    filter.need_response = true;
    filter.max_prompt_length = p.get_int("max_prompt_length");
    filter.max_response_length = p.get_int("max_response_length");
    filter.response_template = p.get_string("response_template");
    LoadReport report;
    const std::string file = p.get_string("file");
    const std::vector<Example> examples =
        load_examples(data_file(*ctx.input("data"), file), *model, images, format, filter, &report);
    log.info("{}: {} rows, {} kept, {} responses cut, {} images", file, report.rows, report.kept, report.truncated,
             images.count());

    const int64_t batch = p.get_int("batch_size"), micro = p.get_int("micro_batch_size");
    const int64_t rows = static_cast<int64_t>(examples.size());
    const int64_t total_steps =
        p.get_int("max_steps") > 0 ? p.get_int("max_steps") : p.get_int("epochs") * std::max<int64_t>(1, rows / batch);
    const int64_t save_freq = p.get_int("save_freq"), sample_freq = p.get_int("sample_freq");
    const double time_limit = 60.0 * p.get_float("time_limit_minutes");
    const Validator validator(ctx, p, *model, format, p.get_int("max_response_length"));
    Optimizer optimizer(trainable_parameters(*model), optimizer_config(p), total_steps);
    BatchSampler sampler(examples, ctx.seed(), p.get_bool("shuffle"), false);
    MetricLog metrics(ctx);
    TextLog samples(ctx.output_dir() / "samples.txt");
    int64_t step = 0, last_val = -1, max_new = 1;
    for (const auto& ex : examples) max_new = std::max<int64_t>(max_new, static_cast<int64_t>(ex.response.size()));
    double trained_seconds = 0;
    std::map<std::string, double> last, last_val_metrics;

    auto validate = [&](int64_t at) {
      last_val_metrics = validator.run(*model);
      for (const auto& [k, v] : last_val_metrics) metrics.log(at, metric::val(k), v);
      last_val = at;
      log.info("step {}: val balanced accuracy {:.4f}", at, last_val_metrics["balanced_accuracy"]);
    };
    auto save = [&] {
      const Json state = {{"step", step}, {"updates", optimizer.updates()}, {"sampler", sampler.state()},
                          {"trained_seconds", trained_seconds}, {"last_val", last_val},
                          {"metrics", metrics.history()}, {"samples", samples.text()}};
      checkpoint.save(*model, optimizer, state, {});
    };
    if (resuming) {
      const Json state = checkpoint.state();
      step = state.at("step").get<int64_t>();
      sampler.restore(state.at("sampler"));
      checkpoint.load_optimizer(optimizer);
      optimizer.set_updates(state.at("updates").get<int64_t>());
      trained_seconds = state.at("trained_seconds").get<double>();
      last_val = state.at("last_val").get<int64_t>();
      metrics.replay(state.at("metrics"));
      samples.restore(state.at("samples").get<std::string>());
      log.info("resumed from the checkpoint of step {} of {}", step, total_steps);
    } else {
      log.info("{} steps of {} rows ({} rows, {} epochs)", total_steps, batch, rows, p.get_int("epochs"));
      if (validator.before_train()) validate(0);
    }

    model->train();
    bool out_of_time = false;
    while (step < total_steps) {
      if (ctx.cancelled()) {
        if (save_freq > 0) save();
        throw Error(ErrorCategory::Interrupted, "algorithm/sft stopped at step " + std::to_string(step));
      }
      if (time_limit > 0 && trained_seconds >= time_limit) {
        out_of_time = true;
        break;
      }
      ++step;
      const auto started = std::chrono::steady_clock::now();
      const std::vector<int64_t> batch_rows = sampler.next(batch);
      optimizer.zero_grad();
      const SftLossStats st = sft_backward(*model, examples, batch_rows, images, micro, 1.0);
      const Optimizer::StepResult r = optimizer.step();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      trained_seconds += seconds;
      double prompt_tokens = 0;
      for (int64_t row : batch_rows) prompt_tokens += static_cast<double>(examples[static_cast<size_t>(row)].prompt.size());
      last = {{metric::kLoss, st.loss},
              {metric::kTokenAccuracy, st.token_accuracy},
              {metric::kEntropy, st.entropy},
              {metric::kGradNorm, r.grad_norm},
              {metric::kLr, r.lr},
              {metric::kSkippedUpdates, r.skipped ? 1.0 : 0.0},
              {metric::kTokensPerSecond, (prompt_tokens + st.tokens) / std::max(seconds, 1e-9)},
              {metric::time("step"), seconds},
              {metric::kEpoch, sampler.epoch()}};
      metrics.log_all(step, last);
      if (step % 10 == 0 || step == 1)
        log.info("step {}/{}: loss {:.4f}, token accuracy {:.3f}, {:.2f} s", step, total_steps, st.loss,
                 st.token_accuracy, seconds);
      if (sample_freq > 0 && step % sample_freq == 0)
        samples.append(greedy_samples(*model, examples, images, p.get_int("samples_per_log"), step, max_new));
      if (validator.due(step, step == total_steps)) validate(step);
      if (save_freq > 0 && step % save_freq == 0 && step < total_steps) save();
    }
    if (validator.enabled() && last_val != step) validate(step);

    publish_backbone(ctx, *model);
    ctx.annotate("stop_reason", out_of_time ? "time limit" : "completed");
    ctx.summary("steps", static_cast<double>(step));
    ctx.summary("train_seconds", trained_seconds);
    for (const char* key : {metric::kLoss, metric::kTokenAccuracy, metric::kEntropy})
      if (last.count(key)) ctx.summary(key, last[key]);
    for (const auto& [k, v] : last_val_metrics) ctx.summary(metric::val(k), v);
  }
};

MSTAR_PLUGIN(Sft)

}  // namespace mstar::algorithms
