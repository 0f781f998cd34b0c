// benchmark/tfq_bench: true/false statements about images (TFQ-Bench), scored
// as the reference's eval_TFQ.py scores them, plus the metrics that keep a
// one-letter model from looking like progress (balanced accuracy, the
// majority baseline, the answer bias) per level and held-out scope.
#include "benchmark.h"
#include "metrics.h"
#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"

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
    s.prompt_template = data::kTfqTemplate;
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
    const ScoredAnswers s = score_answers(ctx, tfq_spec(), reference_rule(data::tfq_reference_answer));

    SummaryOptions options;
    options.kind = AnswerKind::TrueFalse;
    record(ctx, tfq_spec(), s.answers, summarize(s.samples, options),
           {metric::kAccuracy, metric::kBalancedAccuracy, metric::kMajorityBaseline, metric::kAnswerBias,
            metric::kGroupAccuracy, metric::kEmptyAnswers, metric::kMajorityAccuracy});
  }
};
MSTAR_PLUGIN(TfqBench)

}  // namespace mstar::bench
