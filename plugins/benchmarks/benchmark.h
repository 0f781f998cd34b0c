// What the benchmark nodes share: their params and ports, reading the task
// rows, answering them with the backbone, and recording what came out.
// Each node (tfq_bench.cpp, mcq_bench.cpp, osq_bench.cpp,
// short_answer_bench.cpp) adds its extraction and metrics. Private to the
// benchmarks plugin.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "generation.h"
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

// Records every summary, annotates the manifest and logs the headline
// metrics (those of `headline` that exist).
void record(NodeContext& ctx, const BenchmarkSpec& spec, const Answers& a,
            const std::map<std::string, double>& summaries, const std::vector<std::string>& headline);

}  // namespace mstar::bench
