#include "common.h"

#include <algorithm>

#include <torch/torch.h>

#include "mstar/component.h"
#include "mstar/data/answers.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/registry.h"
#include "mstar/ml/sampling.h"

namespace mstar::algorithms {

namespace fs = std::filesystem;

// ---- descriptor and params -------------------------------------------------------------------

PluginInfo algorithm_info(const std::string& name, const std::string& description, const std::string& model_doc) {
  PluginInfo i;
  i.kind = "algorithm";
  i.name = name;
  i.version = "1";
  i.description = description;
  i.inputs = {{"model", "backbone", true, model_doc},
              {"data", "dataset", true, "a dataset split (world.train) holding `file`"}};
  i.outputs = {{"", "backbone", "the trained model (model.safetensors, config.json, tokenizer.json), samples.txt"}};
  return i;
}

void add_prompt_params(ParamSchema& schema, const char* levels_doc) {
  schema
      .add(ParamSpec::string("format_prompt").def("{problem}").describe(
          "user turn; {problem} is replaced by the row's problem (the TFQ scripts wrap it in TFQ-GRPO_format.jinja, "
          "see docs/algorithms.md)"))
      .add(ParamSpec::string("system_prompt").def("").describe("system turn; empty = none"))
      .add(ParamSpec::list("levels", "string").def(Json::array()).describe(levels_doc));
}

void add_optimizer_params(ParamSchema& schema, const OptimizerDefaults& d) {
  schema.add(ParamSpec::real("lr").def(d.lr).range(0, 10).describe("AdamW peak learning rate"))
      .add(ParamSpec::enumeration("lr_schedule", {"constant", "cosine"}).def(d.schedule).describe(
          "after warmup: constant, or a half cosine down to min_lr_ratio x lr"))
      .add(ParamSpec::real("lr_warmup_ratio").def(d.warmup_ratio).range(0, 1).describe(
          "linear warmup over this fraction of the updates"))
      .add(ParamSpec::real("min_lr_ratio").def(0.0).range(0, 1).describe("cosine floor as a fraction of lr"))
      .add(ParamSpec::real("weight_decay").def(d.weight_decay).range(0, 10).describe("AdamW decoupled weight decay"))
      .add(ParamSpec::real("max_grad_norm").def(1.0).range(0, 1e9).describe(
          "clip the global gradient norm; 0 = no clip. A non-finite norm skips the update"))
      .add(ParamSpec::list("betas", "float").def(Json::array({0.9, 0.999})).describe("AdamW (beta1, beta2)"));
}

OptimizerConfig optimizer_config(const Params& p) {
  OptimizerConfig c;
  c.schedule.lr = p.get_float("lr");
  c.schedule.schedule = lr_schedule_from_string(p.get_string("lr_schedule"));
  c.schedule.warmup_ratio = p.get_float("lr_warmup_ratio");
  c.schedule.min_lr_ratio = p.get_float("min_lr_ratio");
  c.weight_decay = p.get_float("weight_decay");
  c.max_grad_norm = p.get_float("max_grad_norm");
  const Json& betas = p.get("betas");
  if (!betas.is_array() || betas.size() != 2) throw_bad_input("betas must be a list of two numbers");
  c.beta1 = betas[0].get<double>();
  c.beta2 = betas[1].get<double>();
  return c;
}

void add_validation_params(ParamSchema& schema) {
  schema.add(ParamSpec::string("val_file").def("tfq_lite.jsonl").describe(
          "T/F file of the val_data input (tfq_lite.jsonl is the TFQ-Bench-Lite analog)"))
      .add(ParamSpec::list("val_levels", "string").def(Json::array()).describe("validate on these levels only (empty = all)"))
      .add(ParamSpec::integer("val_max_rows").def(0).range(0, 1 << 30).describe("first N rows; 0 = all"))
      .add(ParamSpec::real("val_temperature").def(0.5).range(0, 10).describe(
          "sampling temperature of validation (the reference's val_override_config); 0 = greedy"))
      .add(ParamSpec::real("val_top_p").def(0.99).range(0, 1).describe(
          "nucleus of validation sampling; the reference's val_override_config changes only temperature and n, "
          "so validation keeps its rollout top_p, 0.99"))
      .add(ParamSpec::enumeration("val_answers", {"reward", "lenient"}).def("reward").describe(
          "how an answer is judged: reward = the reward's accuracy part (the reference's val/accuracy_reward; "
          "reward/tfq when the training reward has none), lenient = mstar's extractor (last <answer>, else "
          "\"Answer: X\", else the last standalone T/F)"))
      .add(ParamSpec::integer("val_max_new_tokens").def(0).range(0, 1 << 20).describe("0 = max_response_length"))
      .add(ParamSpec::integer("val_batch").def(64).range(1, 1 << 16).describe("statements per generate call"))
      .add(ParamSpec::integer("val_freq").def(5).range(0, 1 << 30).describe("validate every N steps (and at the end); 0 = only at the end"))
      .add(ParamSpec::boolean("val_before_train").def(true).describe("validate the starting model (step 0)"));
}

void add_run_params(ParamSchema& schema, int64_t save_freq) {
  schema.add(ParamSpec::string("device").def("").describe("cpu, cuda, cuda:N; empty = where the model was saved"))
      .add(ParamSpec::enumeration("dtype", {"float32", "bfloat16"}).def("float32").describe(
          "compute precision: bfloat16 runs matrix products and attention under autocast (weights, optimizer "
          "state and saved checkpoints stay float32); meant for GPUs"))
      .add(ParamSpec::boolean("freeze_vision").def(false).describe("freeze the vision tower (projector stays trainable)"))
      .add(ParamSpec::integer("save_freq").def(save_freq).range(0, 1 << 30).describe(
          "checkpoint into the resume directory every N steps; 0 = never (a killed node starts over)"))
      .add(ParamSpec::integer("sample_freq").def(10).range(0, 1 << 30).describe(
          "append sample responses to samples.txt every N steps; 0 = never"))
      .add(ParamSpec::integer("intra_op_threads").def(0).range(0, 1024).describe(
          "threads of LibTorch's own kernels (its intra-op pool); 0 = the node's CPUs. Matrix products use the "
          "node's CPUs either way. 1 is faster for tiny models (docs/algorithms.md)"));
}

// ---- inputs and outputs ----------------------------------------------------------------------

fs::path data_file(const Artifact& data, const std::string& name) {
  for (const fs::path& candidate : {data.dir() / name, data.dir() / "train" / name})
    if (fs::is_regular_file(candidate)) return candidate;
  std::string present;
  if (fs::is_directory(data.dir()))
    for (const auto& e : fs::directory_iterator(data.dir()))
      if (e.path().extension() == ".jsonl") present += " " + e.path().filename().string();
  throw_bad_input("dataset input " + data.dir().string() + " has no " + name +
                  (present.empty() ? " (and no .jsonl files: wire a split such as world.train)" : "; it has:" + present));
}

std::unique_ptr<ml::Backbone> load_model(const fs::path& dir, const std::string& device) {
  ml::LoadOptions options;
  options.device = device;
  return ml::load_backbone(dir, options);
}

std::unique_ptr<ml::Backbone> load_model(const Artifact& artifact, const std::string& device) {
  return load_model(ml::backbone_dir(artifact), device);
}

void freeze(ml::Backbone& model) {
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  model.eval();
}

void publish_backbone(NodeContext& ctx, const ml::Backbone& model) {
  model.save(ctx.output_dir());
  ctx.annotate("artifact_type", "backbone");
  ctx.annotate("type", "backbone");
  ctx.annotate("architecture", model.architecture());
  ctx.annotate("config", model.config());
}

void setup_torch(NodeContext& ctx) {
  ml::set_num_threads(ctx.threads());
  // For tiny models the element-wise kernels are too small to split: on 2
  // cores one LibTorch thread beside two BLAS threads ran an S training step
  // 7-15% faster than two of each (bench/backbone_bench --threads 2,2/1).
  // Not the default, because the thread count can change float reductions
  // and so the digits of a recorded run.
  const int64_t intra_op = ctx.params().get_int("intra_op_threads");
  if (intra_op > 0) torch::set_num_threads(static_cast<int>(intra_op));
  torch::manual_seed(ctx.seed());
}

// ---- validation ----------------------------------------------------------------------------------

Validator::Validator(NodeContext& ctx, const Params& p, const ml::Backbone& model, const PromptFormat& format,
                     int64_t default_max_new_tokens, std::shared_ptr<const RewardFunction> reward) {
  config_.file = p.get_string("val_file");
  config_.levels = string_list(p.get("val_levels"));
  config_.max_rows = p.get_int("val_max_rows");
  config_.temperature = p.get_float("val_temperature");
  config_.top_p = p.get_float("val_top_p");
  config_.max_new_tokens = p.get_int("val_max_new_tokens") > 0 ? p.get_int("val_max_new_tokens") : default_max_new_tokens;
  config_.batch = p.get_int("val_batch");
  config_.freq = p.get_int("val_freq");
  config_.before_train = p.get_bool("val_before_train");
  config_.seed = ctx.seed() ^ 0x76616CULL;
  const Artifact* data = ctx.input("val_data");
  if (!data) return;
  if (p.get_string("val_answers") == "reward") {
    if (!reward || AnswerJudge::accuracy_key(*reward).empty()) {
      if (reward) ctx.logger().info("validation: the reward reports no accuracy part; judging with reward/tfq");
      reward = make_component<RewardFunction>(ctx, Json{{"plugin", "reward/tfq"}});
    }
    judge_ = AnswerJudge(std::move(reward));
  }
  images_ = ImageBank(model.image_size());
  ExampleFilter filter;
  filter.levels = config_.levels;
  filter.need_answer = true;
  filter.max_rows = config_.max_rows;
  examples_ = load_examples(data_file(*data, config_.file), model, images_, format, filter);
  ctx.logger().info("validation: {} statements of {}", examples_.size(), config_.file);
}

bool Validator::due(int64_t step, bool last) const {
  if (!enabled()) return false;
  return last || (config_.freq > 0 && step % config_.freq == 0);
}

std::map<std::string, double> Validator::run(ml::Backbone& model) const {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  torch::Generator generator = ml::make_generator(config_.seed);
  struct Tally {
    double t = 0, t_ok = 0, f = 0, f_ok = 0, said_t = 0, answered = 0, format = 0, reward = 0;
  };
  std::map<std::string, Tally> tallies;  // "" = all rows
  for (size_t begin = 0; begin < examples_.size(); begin += static_cast<size_t>(config_.batch)) {
    const size_t end = std::min(examples_.size(), begin + static_cast<size_t>(config_.batch));
    std::vector<std::vector<int64_t>> prompts;
    std::vector<int64_t> image_ids;
    for (size_t i = begin; i < end; ++i) {
      prompts.push_back(examples_[i].prompt);
      image_ids.push_back(examples_[i].image);
    }
    ml::Batch batch = ml::pad_batch(prompts, model.pad_token_id(), ml::PadSide::Left);
    batch.images = images_.batch(image_ids);
    ml::SamplingOptions options;
    options.max_new_tokens = config_.max_new_tokens;
    options.temperature = config_.temperature;
    options.top_p = config_.top_p;
    options.greedy = config_.temperature <= 0;
    options.generator = generator;
    options.compute_entropies = false;
    ml::Generation g = model.generate(batch, options);
    torch::Tensor tokens = g.tokens.cpu().contiguous(), lengths = g.lengths.cpu().contiguous();
    auto tok = tokens.accessor<int64_t, 2>();
    auto len = lengths.accessor<int64_t, 1>();
    for (size_t i = begin; i < end; ++i) {
      const auto row = static_cast<int64_t>(i - begin);
      std::vector<int64_t> ids(static_cast<size_t>(len[row]));
      for (int64_t j = 0; j < len[row]; ++j) ids[static_cast<size_t>(j)] = tok[row][j];
      const std::string text = model.decode_response(ids);
      const Example& ex = examples_[i];
      const bool truth_t = data::answers_equal(ex.row.answer, "T");
      Json sample = ex.row.raw;
      sample["answer"] = ex.row.answer;
      const AnswerVerdict v = judge_.judge(text, sample);
      auto count = [&](Tally& t) {
        (truth_t ? t.t : t.f) += 1;
        (truth_t ? t.t_ok : t.f_ok) += v.correct ? 1 : 0;
        t.said_t += v.said_t ? 1 : 0;
        t.answered += (v.said_t || v.said_f) ? 1 : 0;
        t.format += data::tfq_format_ok(text) ? 1 : 0;
        t.reward += v.reward;
      };
      count(tallies[""]);
      if (!ex.row.level.empty()) count(tallies[ex.row.level]);
      // Per kind of statement (literal/colour, literal/present ...): which
      // attribute a model perceives, not only how many statements it gets.
      if (!ex.row.level.empty() && !ex.row.kind.empty()) count(tallies[ex.row.level + "/" + ex.row.kind]);
    }
  }
  std::map<std::string, double> out;
  for (const auto& [level, t] : tallies) {
    const std::string suffix = level.empty() ? "" : "/" + level;
    const double rows = t.t + t.f;
    const double tpr = t.t > 0 ? t.t_ok / t.t : -1, tnr = t.f > 0 ? t.f_ok / t.f : -1;
    const double balanced = tpr < 0 ? tnr : tnr < 0 ? tpr : 0.5 * (tpr + tnr);
    out["accuracy" + suffix] = (t.t_ok + t.f_ok) / rows;
    out["balanced_accuracy" + suffix] = balanced;
    if (!level.empty()) continue;
    out["true_positive_rate"] = std::max(tpr, 0.0);
    out["true_negative_rate"] = std::max(tnr, 0.0);
    out["p_true"] = t.said_t / rows;
    out["answered"] = t.answered / rows;
    out["format_rate"] = t.format / rows;
    if (judge_.uses_reward()) out["reward"] = t.reward / rows;
    out["rows"] = rows;
  }
  model.train(was_training);
  return out;
}

}  // namespace mstar::algorithms
