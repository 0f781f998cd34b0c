#include "benchmark.h"

#include <torch/torch.h>

#include "metrics.h"
#include "mstar/format.h"
#include "mstar/artifact.h"
#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"
#include "mstar/data/regex.h"
#include "mstar/error.h"
#include "mstar/ml/registry.h"

namespace mstar::bench {

namespace fs = std::filesystem;

namespace {

std::string replace_choice(const std::string& format, const std::string& choice) {
  std::string out = format;
  constexpr std::string_view kSlot = "{choice}";
  for (size_t at = out.find(kSlot); at != std::string::npos; at = out.find(kSlot, at + choice.size()))
    out.replace(at, kSlot.size(), choice);
  return out;
}

}  // namespace

PluginInfo benchmark_info(const BenchmarkSpec& spec) {
  PluginInfo i;
  i.kind = "benchmark";
  i.name = spec.name;
  i.version = "2";  // 2: entropy summary
  i.description = spec.description;
  i.params
      .add(ParamSpec::string("file").def(spec.file).describe(
          "task file in the `data` split (or in its bench/ when `data` is a dataset root)"))
      .add(ParamSpec::integer("limit")
               .def(0)
               .range(0, 1 << 30)
               .describe(spec.whole_groups ? "evaluate the first N rows, rounded up to whole images; 0 = all"
                                           : "evaluate the first N rows; 0 = all"))
      .add(ParamSpec::string("template")
               .def(spec.prompt_template)
               .describe("user turn; {problem} is replaced by the row's problem (which holds <image>)"))
      .add(ParamSpec::string("system").def("").describe("system prompt; \"\" = none"));
  add_decoding_params(i.params, spec.max_new_tokens);
  if (spec.choices) {
    i.params
        .add(
            ParamSpec::enumeration("answer_mode", {"generate", "likelihood"})
                .def("generate")
                .describe("generate: sample answers (the reference's protocol); likelihood: take the choice whose "
                          "completion the model finds most likely (deterministic, n = 1; for models that do not follow "
                          "the answer format)"))
        .add(ParamSpec::string("choice_format")
                 .def("<answer>{choice}</answer>")
                 .describe("likelihood mode: the completion scored for each choice; {choice} is replaced"));
  }
  i.inputs = {{"model", "backbone", true, "the backbone to evaluate (base or trained)"},
              {"data", "dataset", true, "a dataset split (world.bench), or a dataset artifact with bench/"}};
  i.outputs = {{"", "benchmark", "predictions.jsonl (+ eval_result.json in the reference's format)"}};
  i.examples = {"eval:\n  plugin: benchmark/" + spec.name +
                "\n  inputs: {model: train, data: world.bench}\n"
                "  params: {limit: 200, temperature: 0.5}"};
  return i;
}

Answers answer_rows(NodeContext& ctx, const BenchmarkSpec& spec) {
  const Params& p = ctx.params();
  auto& log = ctx.logger();
  torch::set_num_threads(std::max(1, ctx.threads()));

  const Artifact* data = ctx.input("data");
  const Artifact* model_input = ctx.input("model");
  if (!data || !model_input) throw_bad_input(spec.name + ": inputs `model` and `data` are required");

  Answers a;
  a.decode = decode_options(p, ctx.seed());
  const fs::path file = find_task_file(data->dir(), p.get_string("file"));
  a.file = file.string();
  ReadTaskOptions read;
  read.format = spec.format;
  read.category_key = spec.category_key;
  read.limit = static_cast<size_t>(p.get_int("limit"));
  read.whole_groups = spec.whole_groups;
  a.rows = read_task_rows(file, read);
  if (a.rows.empty()) throw_bad_input(spec.name + ": no rows in " + file.string());

  const fs::path checkpoint = ml::backbone_dir(*model_input);
  auto model = ml::load_backbone(checkpoint, load_options(p));
  log.info("{}: {} rows of {}, {} answer(s) each; backbone {} ({} parameters) on {}", spec.name, a.rows.size(),
           file.string(), a.decode.samples, model->architecture(), model->parameter_count(), model->device().str());

  const std::string tmpl = p.get_string("template");
  std::vector<Query> queries;
  queries.reserve(a.rows.size());
  for (const auto& r : a.rows) queries.push_back({data::fill_template(tmpl, r.problem), &r.image()});
  const bool likelihood = spec.choices && p.get_string("answer_mode") == "likelihood";
  if (likelihood) a.decode.samples = 1;
  ResponseGenerator generator(ctx, std::move(model), a.decode);
  if (!likelihood) {
    a.responses = generator.run(p.get_string("system"), queries, spec.name);
    a.entropy = generator.mean_token_entropy();
    return a;
  }

  const std::string format = p.get_string("choice_format");
  std::vector<std::vector<std::string>> choices, completions;
  for (const auto& r : a.rows) {
    choices.push_back(spec.choices(r));
    completions.emplace_back();
    for (const auto& c : choices.back()) completions.back().push_back(replace_choice(format, c));
  }
  const auto scores = generator.score_completions(p.get_string("system"), queries, completions, spec.name);
  for (size_t i = 0; i < a.rows.size(); ++i) {
    std::map<std::string, double> by_choice;
    size_t best = 0;
    for (size_t c = 0; c < choices[i].size(); ++c) {
      by_choice[choices[i][c]] = scores[i][c];
      if (scores[i][c] > scores[i][best]) best = c;
    }
    a.responses.push_back({completions[i].empty() ? std::string() : completions[i][best]});
    a.choice_logprobs.push_back(std::move(by_choice));
  }
  return a;
}

Json prediction_line(const Answers& a, size_t row, size_t sample) {
  const TaskRow& r = a.rows[row];
  Json line{{"question_id", r.question_id}, {"sample", sample},
            {"image_id", r.image_id},       {"image", r.image().url()},
            {"heldout", r.heldout},         {"problem", r.problem},
            {"answer", r.answer},           {"response", a.responses[row][sample]}};
  if (!r.category.empty()) line["category"] = r.category;
  if (row < a.choice_logprobs.size()) line["choice_logprobs"] = a.choice_logprobs[row];
  return line;
}

void write_predictions(NodeContext& ctx, const std::vector<Json>& lines) {
  write_jsonl(ctx.output_dir() / "predictions.jsonl", lines);
}

void write_reference_json(NodeContext& ctx, const Answers& a,
                          const std::function<std::string(size_t row, size_t sample)>& model_output) {
  for (size_t k = 0; k < a.samples(); ++k) {
    Json entries = Json::array();
    for (size_t i = 0; i < a.rows.size(); ++i) entries.push_back(reference_entry(a.rows[i], model_output(i, k)));
    const std::string name = k == 0 ? "eval_result.json" : "eval_result_s" + std::to_string(k) + ".json";
    write_file_atomic(ctx.output_dir() / name, entries.dump(2, ' ', false, Json::error_handler_t::replace) + "\n");
  }
}

AnswerRule reference_rule(std::function<std::string(const std::string& response)> extract) {
  AnswerRule rule;
  rule.extract = std::move(extract);
  rule.key = data::lower;
  rule.correct = [](const Prediction& p) { return data::reference_answers_equal(p.extracted, p.truth); };
  return rule;
}

ScoredAnswers score_answers(NodeContext& ctx, const BenchmarkSpec& spec, const AnswerRule& rule) {
  ScoredAnswers out{answer_rows(ctx, spec), {}};
  const Answers& a = out.answers;
  out.samples = per_sample<Prediction>(a, [&](size_t i, size_t k) {
    const TaskRow& r = a.rows[i];
    Prediction p;
    p.truth = r.answer;
    p.extracted = rule.extract(a.responses[i][k]);
    p.key = rule.key(p.extracted);
    p.correct = rule.correct(p);
    p.group = r.image().url();  // the reference's scripts group by Image_URL
    p.category = r.category;
    p.heldout = r.heldout;
    return p;
  });

  std::vector<Json> lines;
  for (size_t i = 0; i < a.rows.size(); ++i)
    for (size_t k = 0; k < a.samples(); ++k) {
      const Prediction& p = out.samples[k][i];
      Json line = prediction_line(a, i, k);
      line["extracted"] = p.extracted;
      line["correct"] = p.correct;
      if (rule.annotate) rule.annotate(line, a.rows[i], p);
      lines.push_back(std::move(line));
    }
  write_predictions(ctx, lines);
  if (rule.reference_json) write_reference_json(ctx, a, [&](size_t i, size_t k) { return a.responses[i][k]; });
  return out;
}

void record(NodeContext& ctx, const BenchmarkSpec& spec, const Answers& a,
            const std::map<std::string, double>& summaries, const std::vector<std::string>& headline) {
  for (const auto& [key, value] : summaries) ctx.summary(key, value);
  if (a.entropy >= 0) ctx.summary("entropy", a.entropy);
  ctx.annotate("type", "benchmark");
  ctx.annotate("benchmark", spec.name);
  ctx.annotate("file", a.file);
  ctx.annotate("rows", a.rows.size());
  ctx.annotate("template", ctx.params().get_string("template"));
  ctx.annotate("decoding", to_json(a.decode));
  if (!a.choice_logprobs.empty()) ctx.annotate("answer_mode", "likelihood");
  std::string line;
  for (const auto& key : headline) {
    auto it = summaries.find(key);
    if (it == summaries.end()) continue;
    const bool count = key == metric::kRows || key == metric::kJudged || key == metric::kJudgeFailures;
    line += (line.empty() ? "" : ", ") + key + " " +
            (count ? mstar::format("{:.0f}", it->second) : mstar::format("{:.4f}", it->second));
  }
  ctx.logger().info("{}: {}", spec.name, line);
}

}  // namespace mstar::bench
