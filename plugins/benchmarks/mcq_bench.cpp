// benchmark/mcq: which of six messages the image conveys, one letter A-F,
// extracted as the reference's eval_MCQ.py extracts it.
#include "benchmark.h"
#include "metrics.h"
#include "mstar/text/answers.h"
#include "mstar/text/prompts.h"
#include "mstar/text/regex.h"

namespace mstar::bench {

namespace {

// Options of a row: its "options" list (at most 26), else six (A-F).
size_t option_count(const TaskRow& r) {
  const Json& o = r.raw.contains("options") ? r.raw["options"] : Json();
  return o.is_array() && !o.empty() ? std::min<size_t>(o.size(), 26) : 6;
}

const BenchmarkSpec& mcq_spec() {
  static const BenchmarkSpec spec = [] {
    BenchmarkSpec s;
    s.name = "mcq";
    s.description =
        "MCQ: the implication of the image among six options (A-F, listed in the row's problem). The letter is "
        "extracted exactly as MetaphorStar's eval_MCQ.py (last <answer> content, else the first 'Answer: X') and "
        "compared ignoring case. Summaries: accuracy, balanced_accuracy (mean recall over the correct letters), "
        "majority_baseline, chance (1 / options), group_accuracy, empty_answers, heldout.* and seen.*; "
        "majority_accuracy for n > 1. Writes predictions.jsonl and eval_result.json.";
    s.file = "mcq.jsonl";
    s.prompt_template = text::kMcqTemplate;
    s.max_new_tokens = 128;
    s.choices = [](const TaskRow& r) {
      std::vector<std::string> letters;
      for (size_t i = 0; i < option_count(r); ++i) letters.emplace_back(1, static_cast<char>('A' + i));
      return letters;
    };
    return s;
  }();
  return spec;
}

}  // namespace

class McqBench {
 public:
  static PluginInfo info() { return benchmark_info(mcq_spec()); }

  void run(NodeContext& ctx) {
    const Answers a = answer_rows(ctx, mcq_spec());
    const auto samples = per_sample<Prediction>(a, [&](size_t i, size_t k) {
      const TaskRow& r = a.rows[i];
      Prediction p;
      p.truth = r.answer;
      p.extracted = text::mcq_reference_answer(a.responses[i][k]);
      p.key = text::lower(p.extracted);
      p.correct = text::reference_answers_equal(p.extracted, r.answer);
      p.group = r.image_url;
      p.heldout = r.heldout;
      return p;
    });

    std::vector<Json> lines;
    for (size_t i = 0; i < a.rows.size(); ++i)
      for (size_t k = 0; k < a.samples(); ++k) {
        Json line = prediction_line(a, i, k);
        line["extracted"] = samples[k][i].extracted;
        line["correct"] = samples[k][i].correct;
        lines.push_back(std::move(line));
      }
    write_predictions(ctx, lines);
    write_reference_json(ctx, a, [&](size_t i, size_t k) { return a.responses[i][k]; });

    SummaryOptions options;
    options.kind = AnswerKind::Choice;
    options.by_category = false;
    auto summaries = summarize(samples, options);
    double chance = 0;
    for (const auto& r : a.rows) chance += 1.0 / static_cast<double>(option_count(r));
    summaries[metric::kChance] = chance / static_cast<double>(a.rows.size());
    record(ctx, mcq_spec(), a, summaries,
           {metric::kAccuracy, metric::kBalancedAccuracy, metric::kChance, metric::kEmptyAnswers,
            metric::kMajorityAccuracy});
  }
};
MSTAR_PLUGIN(McqBench)

}  // namespace mstar::bench
