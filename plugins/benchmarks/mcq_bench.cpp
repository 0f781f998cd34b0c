// benchmark/mcq: which of six messages the image conveys, one letter A-F,
// extracted as the reference's eval_MCQ.py extracts it.
#include "benchmark.h"
#include "metrics.h"
#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"

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
    s.prompt_template = data::kMcqTemplate;
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
    const ScoredAnswers s = score_answers(ctx, mcq_spec(), reference_rule(data::mcq_reference_answer));

    SummaryOptions options;
    options.kind = AnswerKind::Choice;
    options.by_category = false;
    auto summaries = summarize(s.samples, options);
    double chance = 0;
    for (const auto& r : s.answers.rows) chance += 1.0 / static_cast<double>(option_count(r));
    summaries[metric::kChance] = chance / static_cast<double>(s.answers.rows.size());
    record(ctx, mcq_spec(), s.answers, summaries,
           {metric::kAccuracy, metric::kBalancedAccuracy, metric::kChance, metric::kEmptyAnswers,
            metric::kMajorityAccuracy});
  }
};
MSTAR_PLUGIN(McqBench)

}  // namespace mstar::bench
