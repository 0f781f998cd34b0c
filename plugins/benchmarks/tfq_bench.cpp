// benchmark/tfq_bench: true/false statements about images (TFQ-Bench), scored
// as the reference's eval_TFQ.py scores them, plus the metrics that keep a
// one-letter model from looking like progress (balanced accuracy, the
// majority baseline, the answer bias) per level and held-out scope.
#include "benchmark.h"
#include "metrics.h"
#include "mstar/text/answers.h"
#include "mstar/text/prompts.h"
#include "mstar/text/regex.h"

namespace mstar::bench {

namespace {

const BenchmarkSpec& tfq_spec() {
  static const BenchmarkSpec spec = [] {
    BenchmarkSpec s;
    s.name = "tfq_bench";
    s.description =
        "TFQ-Bench: the backbone answers each true/false statement (n samples, KV-cached batched sampling); the "
        "answer is extracted exactly as MetaphorStar's eval_TFQ.py (last <answer>, else 'Answer: T|F', else the "
        "last standalone T or F) and compared ignoring case. Summaries: accuracy, balanced_accuracy, "
        "majority_baseline, answer_bias, group_accuracy (images with every statement right), empty_answers, "
        "invalid_answers, each also per level (literal.*, symbolic.*, implication.*) and held-out scope "
        "(heldout.*, seen.*); majority_accuracy for n > 1. Writes predictions.jsonl and eval_result.json.";
    s.file = "tfq.jsonl";
    s.format = TaskFormat::TrueFalse;
    s.category_key = "level";
    s.prompt_template = text::kTfqTemplate;
    s.max_new_tokens = 128;
    s.whole_groups = true;
    s.choices = [](const TaskRow&) { return std::vector<std::string>{"T", "F"}; };
    return s;
  }();
  return spec;
}

}  // namespace

class TfqBench {
 public:
  static PluginInfo info() { return benchmark_info(tfq_spec()); }

  void run(NodeContext& ctx) {
    const Answers a = answer_rows(ctx, tfq_spec());
    const auto samples = per_sample<Prediction>(a, [&](size_t i, size_t k) {
      const TaskRow& r = a.rows[i];
      Prediction p;
      p.truth = r.answer;
      p.extracted = text::tfq_reference_answer(a.responses[i][k]);
      p.key = text::lower(p.extracted);
      p.correct = text::reference_answers_equal(p.extracted, r.answer);
      p.group = r.image_url;  // eval_TFQ.py groups by Image_URL
      p.category = r.category;
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
    options.kind = AnswerKind::TrueFalse;
    record(ctx, tfq_spec(), a, summarize(samples, options),
           {metric::kAccuracy, metric::kBalancedAccuracy, metric::kMajorityBaseline, metric::kAnswerBias,
            metric::kGroupAccuracy, metric::kEmptyAnswers, metric::kMajorityAccuracy});
  }
};
MSTAR_PLUGIN(TfqBench)

}  // namespace mstar::bench
