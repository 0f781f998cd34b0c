// The rows a benchmark evaluates and the files it writes: reading a task
// file of a dataset split (tfq.jsonl, mcq.jsonl, ...), and the predictions
// (JSONL, and the reference's evaluation JSON). No LibTorch here.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/world/tfq_reader.h"

namespace mstar::bench {

struct TaskRow {
  Json raw;                 // the row as read
  std::string problem;      // the question, <image> where the image goes
  std::string answer;       // ground truth
  std::string question_id;  // the row's, else "FILESTEM-LINE"
  std::string image_id;     // the row's, else the image's source
  std::string category;     // level (TFQ) or type (VQA, reasoning); "" = none
  bool heldout = false;     // the row's flag, else the image's in scenes.jsonl
  world::ImageRef image;    // the first image
  // The image as the reference's scripts take it (Image_URL): an absolute
  // path, or the data: URI as written.
  std::string image_url;
  size_t line = 0;
};

enum class TaskFormat {
  TrueFalse,  // tfq*.jsonl: validated by world::read_tfq_jsonl (answer T or F)
  Generic,    // images, problem, answer (a string) required
};

struct ReadTaskOptions {
  TaskFormat format = TaskFormat::Generic;
  std::string category_key;  // row key naming the category ("level", "type"); "" = none
  size_t limit = 0;          // first N rows; 0 = all
  // With a limit, keep going until the last image's rows are complete
  // (group accuracy needs whole images).
  bool whole_groups = false;
};

// `file` inside `dir`, or inside `dir`/bench when `dir` is an artifact root
// with splits. Throws Error(BadInput) naming both places when absent.
std::filesystem::path find_task_file(const std::filesystem::path& dir, const std::string& file);

// Rows of a task file, validated; "heldout" falls back to the image's flag in
// the split's scenes.jsonl. Throws Error(BadInput) "FILE:LINE: problem".
std::vector<TaskRow> read_task_rows(const std::filesystem::path& file, const ReadTaskOptions& options);

// One entry of the reference's evaluation JSON (eval_TFQ.py, eval_MCQ.py,
// eval_OSQ.py read these keys): Question_ID, Question, Model_Output,
// Ground_Truth, Image_URL.
Json reference_entry(const TaskRow& row, const std::string& model_output);

// Writes one JSON object per line, atomically.
void write_jsonl(const std::filesystem::path& file, const std::vector<Json>& lines);

}  // namespace mstar::bench
