// The algorithm/sft node: masked cross-entropy on response tokens, used to
// pretrain a base on the literal corpus (pretrain.jsonl) and for TFQ-SFT on
// expert trajectories (sft.jsonl). Its step runs in the TrainingLoop, as GRPO's.
#include <sstream>


#include "common.h"
#include "mstar/format.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/sampling.h"
#include "mstar/plugin.h"
#include "data_parallel.h"
#include "supervised.h"
#include "training_loop.h"

namespace mstar::algorithms {

namespace {

// Tokens of the longest target (at least 1): what a greedy sample may take.
int64_t longest_response(const std::vector<Example>& examples) {
  int64_t longest = 1;
  for (const auto& ex : examples) longest = std::max<int64_t>(longest, static_cast<int64_t>(ex.response.size()));
  return longest;
}

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
    out << ex.row.raw.value("problem", "") << "\n  target: " << model.decode_response(ex.response)
        << "\n  greedy: " << model.decode_response(v) << "\n";
  }
  model.train(training);
  return out.str();
}

// One SFT step: a batch of rows, their cross-entropy, one update; between
// steps a progress line and greedy samples.
class SftStep : public TrainingStep {
 public:
  SftStep(ml::Backbone& model, const std::vector<Example>& examples, const ImageBank& images, BatchSampler& sampler,
          Optimizer& optimizer, const Params& p, Logger& log, int64_t total_steps, DataParallel& ranks)
      : ranks_(ranks),
        model_(model),
        examples_(examples),
        images_(images),
        sampler_(sampler),
        optimizer_(optimizer),
        log_(log),
        batch_(p.get_int("batch_size")),
        micro_(p.get_int("micro_batch_size")),
        sample_freq_(p.get_int("sample_freq")),
        samples_per_log_(p.get_int("samples_per_log")),
        total_steps_(total_steps),
        max_new_(longest_response(examples)) {}

  Result run(int64_t /*step*/) override {
    const std::vector<int64_t> rows = sampler_.next(batch_);
    optimizer_.zero_grad();
    const SftLossStats st =
        ranks_.size() > 1 ? sharded_backward(rows) : sft_backward(model_, examples_, rows, images_, micro_, 1.0);
    const Optimizer::StepResult r = optimizer_.step();
    double prompt_tokens = 0;
    for (int64_t row : rows) prompt_tokens += static_cast<double>(examples_[static_cast<size_t>(row)].prompt.size());
    return {{{metric::kLoss, st.loss},
             {metric::kTokenAccuracy, st.token_accuracy},
             {metric::kEntropy, st.entropy},
             {metric::kGradNorm, r.grad_norm},
             {metric::kLr, r.lr},
             {metric::kSkippedUpdates, r.skipped ? 1.0 : 0.0}},
            prompt_tokens + st.tokens};
  }

  std::string after(int64_t step, const StepMetrics& m, double seconds, TextLog& samples) override {
    if (!ranks_.writer()) return {};
    if (step % 10 == 0 || step == 1)
      log_.info("step {}/{}: loss {:.4f}, token accuracy {:.3f}, {:.2f} s", step, total_steps_, m.at(metric::kLoss),
                m.at(metric::kTokenAccuracy), seconds);
    if (sample_freq_ > 0 && step % sample_freq_ == 0)
      samples.append(greedy_samples(model_, examples_, images_, samples_per_log_, step, max_new_));
    return {};
  }

 private:
  // This rank's slice of the batch, over the whole batch's response tokens;
  // gradients and statistics summed over ranks before the update.
  SftLossStats sharded_backward(const std::vector<int64_t>& rows) {
    double tokens = 0;
    for (int64_t row : rows) tokens += static_cast<double>(examples_[static_cast<size_t>(row)].response.size());
    SftLossStats st = sft_backward(model_, examples_, ranks_.shard(rows), images_, micro_, 1.0, tokens);
    ranks_.sum_gradients(model_);
    const std::vector<double> sum = ranks_.sum({st.loss, st.token_accuracy, st.entropy});
    st.loss = sum[0], st.token_accuracy = sum[1], st.entropy = sum[2], st.tokens = tokens;
    return st;
  }

  DataParallel& ranks_;
  ml::Backbone& model_;
  const std::vector<Example>& examples_;
  const ImageBank& images_;
  BatchSampler& sampler_;
  Optimizer& optimizer_;
  Logger& log_;
  const int64_t batch_, micro_, sample_freq_, samples_per_log_, total_steps_, max_new_;
};

}  // namespace

class Sft {
 public:
  static PluginInfo info() {
    PluginInfo i = algorithm_info(
        "sft",
        "Supervised fine-tuning: cross-entropy on response tokens only (the token mean over each batch), AdamW "
        "with warmup and a cosine or constant schedule, grad-norm clip. Pretrains a base on the literal corpus "
        "(file: pretrain.jsonl) or trains TFQ-SFT on expert trajectories (file: sft.jsonl); feeds algorithm/grpo "
        "in the SFT->GRPO hybrid. Logs loss, token accuracy and entropy; checkpoints and resumes.",
        "the model to train");
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
    add_data_parallel_params(s);
    i.inputs.push_back({"val_data", "dataset", false, "a split (world.bench) to validate T/F answers on"});
    i.examples = {
        "base:\n  plugin: algorithm/sft\n  inputs: {model: init, data: world.train}\n"
        "  params: {file: pretrain.jsonl, epochs: 3, batch_size: 32, lr: 1.0e-3}"};
    return i;
  }

  void run(NodeContext& ctx) {
    setup_torch(ctx);
    const Params& p = ctx.params();
    auto& log = ctx.logger();
    DataParallel ranks(p);
    std::unique_ptr<ml::Backbone> model = load_start_model(ctx, p.get_string("device"));
    if (p.get_bool("freeze_vision")) model->set_trainable(ml::ParamGroup::Vision, false);
    ranks.broadcast_model(*model);

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

    const int64_t batch = p.get_int("batch_size");
    const int64_t rows = static_cast<int64_t>(examples.size());
    const int64_t total_steps = planned_steps(p.get_int("max_steps"), p.get_int("epochs"), rows, batch);
    const Validator validator(ctx, p, *model, format, p.get_int("max_response_length"));
    Optimizer optimizer(trainable_parameters(*model), optimizer_config(p), total_steps);
    BatchSampler sampler(examples, ctx.seed(), p.get_bool("shuffle"), false);
    model->train();

    LoopConfig loop;
    loop.name = "algorithm/sft";
    loop.total_steps = total_steps;
    loop.save_freq = p.get_int("save_freq");
    loop.time_limit_minutes = p.get_float("time_limit_minutes");
    loop.plan = mstar::format("{} steps of {} rows ({} rows, {} epochs)", total_steps, batch, rows, p.get_int("epochs"));
    loop.summary_keys = {metric::kLoss, metric::kTokenAccuracy, metric::kEntropy};
    SftStep step(*model, examples, images, sampler, optimizer, p, log, total_steps, ranks);
    const ml::AutocastGuard autocast(model->device(), ml::parse_compute_dtype(p.get_string("dtype")));
    TrainingLoop(ctx, loop, {*model, optimizer, sampler, validator, &ranks}).run(step);
  }
};

MSTAR_PLUGIN(Sft)

}  // namespace mstar::algorithms
