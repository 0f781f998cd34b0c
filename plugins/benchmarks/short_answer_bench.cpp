// benchmark/vqa and benchmark/reasoning: short answers (a count, a colour,
// a position, a name) scored by normalised exact match, per question type.
#include "benchmark.h"
#include "metrics.h"
#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"

namespace mstar::bench {

namespace {

BenchmarkSpec short_answer_spec(const char* name, const char* file, const char* what) {
  BenchmarkSpec s;
  s.name = name;
  s.description = std::string(what) +
                  " The answer is the last <answer> content, else the response without <think> blocks; it is "
                  "correct when it equals the ground truth after normalisation (lower case, articles and "
                  "punctuation dropped, number words as digits). Summaries: accuracy, majority_baseline, "
                  "group_accuracy, empty_answers, each per question type (TYPE.accuracy, ...) and held-out scope; "
                  "majority_accuracy for n > 1. Writes predictions.jsonl.";
  s.file = file;
  s.category_key = "type";
  s.prompt_template = data::kShortAnswerTemplate;
  s.max_new_tokens = 32;
  return s;
}

const BenchmarkSpec& vqa_spec() {
  static const BenchmarkSpec spec = short_answer_spec(
      "vqa", "vqa.jsonl",
      "General VQA on the world's images: count, colour, position and identity questions with one-word answers.");
  return spec;
}

const BenchmarkSpec& reasoning_spec() {
  static const BenchmarkSpec spec = short_answer_spec(
      "reasoning", "reasoning.jsonl",
      "Visual reasoning: two-hop questions (image -> symbol -> meaning: ref_concept, ref_tone; meaning -> symbol -> "
      "image: concept_colour, concept_position), accuracy per hop type.");
  return spec;
}

void run_short_answer(NodeContext& ctx, const BenchmarkSpec& spec) {
  AnswerRule rule;
  rule.extract = data::final_answer_text;
  rule.key = data::normalize_short_answer;
  rule.correct = [](const Prediction& p) { return !p.key.empty() && p.key == data::normalize_short_answer(p.truth); };
  rule.annotate = [](Json& line, const TaskRow& row, const Prediction& p) {
    line["normalized"] = p.key;
    if (row.raw.contains("hops")) line["hops"] = row.raw["hops"];
  };
  rule.reference_json = false;
  const ScoredAnswers s = score_answers(ctx, spec, rule);

  SummaryOptions options;
  options.kind = AnswerKind::Free;
  record(ctx, spec, s.answers, summarize(s.samples, options),
         {metric::kAccuracy, metric::kMajorityBaseline, metric::kEmptyAnswers, metric::kMajorityAccuracy});
}

}  // namespace

class VqaBench {
 public:
  static PluginInfo info() { return benchmark_info(vqa_spec()); }
  void run(NodeContext& ctx) { run_short_answer(ctx, vqa_spec()); }
};
MSTAR_PLUGIN(VqaBench)

class ReasoningBench {
 public:
  static PluginInfo info() { return benchmark_info(reasoning_spec()); }
  void run(NodeContext& ctx) { run_short_answer(ctx, reasoning_spec()); }
};
MSTAR_PLUGIN(ReasoningBench)

}  // namespace mstar::bench
