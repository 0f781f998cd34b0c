// benchmark/osq: the implication in free form, scored 1-5 by a judge
// component (judge/rubric from the world's facts, judge/openai by a model).
// By default as evaluation/eval_OSQ.py: the judge sees the whole model
// output (its Model_Output), and a judge reply without a score counts as 0
// in the mean (calculate_average_score); a request that fails is left out,
// as there (run_evaluation skips it).

#include "benchmark.h"
#include "metrics.h"
#include "mstar/artifact.h"
#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"
#include "mstar/judge.h"

namespace mstar::bench {

namespace {

const BenchmarkSpec& osq_spec() {
  static const BenchmarkSpec spec = [] {
    BenchmarkSpec s;
    s.name = "osq";
    s.description =
        "OSQ: the implication of the image as an open answer, scored 1-5 by the `judge` component on the paper's "
        "rubric, as eval_OSQ.py: the judged text is the whole model output (judged_text), and a judge reply "
        "without a score counts as 0 (unscored). Summaries: mean_score (over judged answers), score_0..score_5 "
        "(their distribution), judged, judge_failures (no score and not counted; a failed judgement never "
        "stops the benchmark), unscored (replies counted as 0), empty_answers, dimension.* (judges that report "
        "them, e.g. judge/rubric), heldout.mean_score and seen.mean_score. Writes predictions.jsonl and "
        "eval_result.json (Model_Output = the judged text).";
    s.file = "osq.jsonl";
    s.prompt_template = data::kOsqTemplate;
    s.max_new_tokens = 128;
    return s;
  }();
  return spec;
}

}  // namespace

class OsqBench {
 public:
  static PluginInfo info() {
    PluginInfo i = benchmark_info(osq_spec());
    i.params.add(
        ParamSpec::plugin("judge", "judge")
            .def(Json{{"plugin", "judge/rubric"}})
            .describe("the judge component: {plugin: judge/rubric} or {plugin: judge/openai, url: ..., model: ...}"))
        .add(ParamSpec::enumeration("judged_text", {"output", "answer"})
                 .def("output")
                 .describe("what the judge reads: output = the whole response, <think> included (eval_OSQ.py's "
                           "Model_Output); answer = the last <answer> content, else the response without <think> "
                           "blocks"))
        .add(ParamSpec::enumeration("unscored", {"zero", "skip"})
                 .def("zero")
                 .describe("a judge reply without a score: zero = counts as 0 in mean_score (eval_OSQ.py's "
                           "calculate_average_score), skip = left out as a judge failure"))
        .add(ParamSpec::path("judge_prompt_file")
                 .describe("a file whose text replaces the judge's `prompt` (judge/openai), e.g. eval_OSQ.py's "
                           "prompt_OSQ with its two {} (docs/benchmarks.md)"));
    i.examples.push_back(
        "osq:\n  plugin: benchmark/osq\n  inputs: {model: train, data: world.bench}\n"
        "  params:\n    judge: {plugin: judge/openai, url: \"http://localhost:8000/v1/chat/completions\", "
        "model: qwen2.5-vl-72b, api_key_env: \"\"}");
    return i;
  }

  void run(NodeContext& ctx) {
    const Params& p = ctx.params();
    const bool whole_output = p.get_string("judged_text") == "output";
    const bool unscored_zero = p.get_string("unscored") == "zero";
    // The judge first: a misconfigured one fails before any generation.
    Json judge_spec = p.get("judge");
    if (p.has("judge_prompt_file") && !p.get("judge_prompt_file").is_null())
      judge_spec["prompt"] = read_file(p.get_string("judge_prompt_file"));
    std::shared_ptr<Judge> judge;
    try {
      judge = make_component<Judge>(ctx, judge_spec);
    } catch (const Error& e) {
      if (!p.has("judge_prompt_file") || p.get("judge_prompt_file").is_null()) throw;
      throw Error(e.category(), std::string(e.what()) + " (the judge's `prompt` is the text of judge_prompt_file " +
                                    p.get_string("judge_prompt_file") + "; judge/openai has a prompt, judge/rubric none)");
    }
    const Answers a = answer_rows(ctx, osq_spec());
    auto judged_text = [&](size_t i, size_t k) {
      return whole_output ? a.responses[i][k] : data::final_answer_text(a.responses[i][k]);
    };

    std::vector<Json> items;
    std::vector<std::pair<size_t, size_t>> where;  // item -> (row, sample)
    for (size_t i = 0; i < a.rows.size(); ++i)
      for (size_t k = 0; k < a.samples(); ++k) {
        Json item = a.rows[i].raw;
        item["response"] = judged_text(i, k);
        item["image"] = a.rows[i].image().url();
        items.push_back(std::move(item));
        where.emplace_back(i, k);
      }

    std::vector<JudgeResult> results;
    ProgressLog progress(ctx, "osq judge", items.size(), "answers judged");
    constexpr size_t kChunk = 64;
    for (size_t begin = 0; begin < items.size(); begin += kChunk) {
      if (ctx.cancelled()) throw Error(ErrorCategory::Interrupted, "osq: stopped by the host while judging");
      const std::vector<Json> chunk(
          items.begin() + static_cast<std::ptrdiff_t>(begin),
          items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), begin + kChunk)));
      for (auto& r : judge->judge_all(chunk)) results.push_back(std::move(r));
      progress.advance(results.size());
    }
    if (results.size() != items.size())
      throw Error(ErrorCategory::PluginFailure, "osq: the judge returned " + std::to_string(results.size()) +
                                                    " results for " + std::to_string(items.size()) + " answers");

    std::vector<Json> lines;
    std::vector<JudgedAnswer> judged;
    size_t empty = 0, failures_logged = 0, unscored = 0;
    for (size_t j = 0; j < items.size(); ++j) {
      const auto [i, k] = where[j];
      JudgeResult r = results[j];
      Json line = prediction_line(a, i, k);
      line["judged"] = items[j]["response"];
      // A reply came back (raw) but held no score: eval_OSQ.py counts it as 0.
      if (!r.ok && !r.raw.empty() && unscored_zero) {
        line["judge_error"] = r.error;
        r.ok = true;
        r.score = 0;
        ++unscored;
      }
      if (r.ok) {
        line["score"] = r.score;
        if (!r.dimensions.empty()) line["dimensions"] = r.dimensions;
      } else {
        line["judge_error"] = r.error;
        if (failures_logged++ < 5) ctx.logger().warn("osq: no score for {}: {}", a.rows[i].question_id, r.error);
      }
      if (!r.raw.empty()) line["judge_output"] = r.raw;
      lines.push_back(std::move(line));
      empty += items[j]["response"].get<std::string>().empty();
      JudgedAnswer ja;
      if (r.ok) ja.score = r.score;
      ja.dimensions = r.dimensions;
      ja.heldout = a.rows[i].heldout;
      judged.push_back(std::move(ja));
    }
    write_predictions(ctx, lines);
    write_reference_json(ctx, a, judged_text);

    auto summaries = summarize_judged(judged);
    summaries[metric::kRows] = static_cast<double>(a.rows.size());
    summaries[metric::kEmptyAnswers] = static_cast<double>(empty) / static_cast<double>(items.size());
    summaries[metric::kUnscored] = static_cast<double>(unscored);
    ctx.annotate("judge", ctx.params().get("judge"));
    record(ctx, osq_spec(), a, summaries,
           {metric::kMeanScore, metric::kJudged, metric::kJudgeFailures, metric::kUnscored, metric::kEmptyAnswers});
  }
};
MSTAR_PLUGIN(OsqBench)

}  // namespace mstar::bench
