// What the benchmark nodes share: their params and ports, reading the task
// rows, answering them with the backbone, and recording what came out.
// Each node (tfq_bench.cpp, mcq_bench.cpp, osq_bench.cpp,
// short_answer_bench.cpp) adds its extraction (an AnswerRule) and metrics. Private to the
// benchmarks plugin.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "generation.h"
#include "metrics.h"
#include "mstar/plugin.h"
#include "tasks.h"

namespace mstar::bench {

struct BenchmarkSpec {
  std::string name;  // plugin name: benchmark/NAME
  std::string description;
  std::string file;  // default task file of the split
  TaskFormat format = TaskFormat::Generic;
  std::string category_key;     // row key of the per-category metrics ("level", "type"); "" = none
  std::string prompt_template;  // default `template`
  int64_t max_new_tokens = 128;
  bool whole_groups = false;  // `limit` rounds up to whole images
  // The answers a row allows ("T", "F"; "A".."F"). Set: the benchmark also
  // offers answer_mode: likelihood, which picks the answer whose completion
  // (choice_format) the backbone finds most likely instead of sampling.
  std::function<std::vector<std::string>(const TaskRow&)> choices;
};

// kind benchmark; params file, limit, template, system and the decoding
// params; inputs model (backbone) and data (dataset); output "benchmark".
PluginInfo benchmark_info(const BenchmarkSpec& spec);

struct Answers {
  std::vector<TaskRow> rows;
  std::vector<std::vector<std::string>> responses;  // [row][sample]
  DecodeOptions decode;
  std::string file;  // the task file read
  // answer_mode likelihood: per row, each choice's log-likelihood (and n = 1).
  std::vector<std::map<std::string, double>> choice_logprobs;
  double entropy = -1;  // mean token entropy of the generated answers; -1 = none generated

  size_t samples() const { return static_cast<size_t>(decode.samples); }
};

// Reads the rows, loads the backbone and generates every answer (or, with
// answer_mode likelihood, picks the most likely choice).
Answers answer_rows(NodeContext& ctx, const BenchmarkSpec& spec);

// samples[k][i] from a per-row function of (row i, sample k).
template <class T>
std::vector<std::vector<T>> per_sample(const Answers& a, const std::function<T(size_t row, size_t sample)>& fn) {
  std::vector<std::vector<T>> out(a.samples());
  for (size_t k = 0; k < a.samples(); ++k)
    for (size_t i = 0; i < a.rows.size(); ++i) out[k].push_back(fn(i, k));
  return out;
}

// The JSONL line every benchmark writes per row and sample; nodes add keys.
Json prediction_line(const Answers& a, size_t row, size_t sample);

// Writes predictions.jsonl, and (for the paper's formats) the reference's
// evaluation JSON: eval_result.json for sample 0, eval_result_sK.json for
// sample K > 0, with Model_Output = model_output(row, sample).
void write_predictions(NodeContext& ctx, const std::vector<Json>& lines);
void write_reference_json(NodeContext& ctx, const Answers& a,
                          const std::function<std::string(size_t row, size_t sample)>& model_output);

// How a benchmark with one right answer per row reads a response.
struct AnswerRule {
  std::function<std::string(const std::string& response)> extract;  // the answer; "" = none
  std::function<std::string(const std::string& extracted)> key;      // what majority votes compare
  std::function<bool(const Prediction& p)> correct;                  // p.extracted against p.truth
  // Keys a node adds to a row's line of predictions.jsonl (beside
  // "extracted" and "correct"); may be empty.
  std::function<void(Json& line, const TaskRow& row, const Prediction& p)> annotate;
  bool reference_json = true;  // also eval_result.json (the paper's formats)
};

// The rule of the paper's scripts (eval_TFQ.py, eval_MCQ.py): the answer
// `extract` takes, compared with the truth ignoring case; eval_result.json.
AnswerRule reference_rule(std::function<std::string(const std::string& response)> extract);

struct ScoredAnswers {
  Answers answers;
  std::vector<std::vector<Prediction>> samples;  // [sample][row]
};

// Answers the rows (answer_rows), reads every response by `rule` and writes
// predictions.jsonl and, with rule.reference_json, eval_result*.json (whose
// Model_Output is the whole response).
ScoredAnswers score_answers(NodeContext& ctx, const BenchmarkSpec& spec, const AnswerRule& rule);

// Records every summary, annotates the manifest and logs the headline
// metrics (those of `headline` that exist).
void record(NodeContext& ctx, const BenchmarkSpec& spec, const Answers& a,
            const std::map<std::string, double>& summaries, const std::vector<std::string>& headline);

}  // namespace mstar::bench
