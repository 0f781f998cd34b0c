// Task rows: the one row type of mstar datasets, and the readers that
// validate them. Dataset plugins write these rows, benchmarks evaluate
// them, trainers learn from them; an out-of-tree benchmark reads them the
// same way (libmstar_data, `mstar::data`).
//
// A TFQ row: {"images": ["img/000123.png"], "problem": "<image> ...", "answer": "T"|"F",
//             "image_id": "...", "question_id": "...", "level": "literal|symbolic|implication",
//             "tags": [...], "heldout": true}
// images, problem and answer are required (the Hugging Face exports carry
// only these); the others are optional but must have the right type. Other
// task files (mcq, osq, vqa, ...) have the same keys with a free answer,
// plus their own (options, facts, hops), kept in TaskRow::raw. An image is a
// path relative to the JSONL file's directory (or absolute), or a
// data:image/png;base64,... / data:image/jpeg;base64,... URI. A path must
// resolve, symlinks followed, inside the dataset folder or one of the
// image_roots (mstar/data/paths.h).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mstar/data/image.h"
#include "mstar/data/jsonl.h"
#include "mstar/json.h"

namespace mstar::data {

struct ImageRef {
  std::string source;               // as written in the row
  std::filesystem::path path;       // resolved file (canonical, confined); empty for a data URI
  std::string mime;                 // data URIs: "image/png" or "image/jpeg"
  std::shared_ptr<const std::string> bytes;  // data URIs: the decoded payload
  int64_t max_pixels = kDefaultMaxPixels;    // the budget load_image decodes it with

  bool inline_data() const { return path.empty(); }
  // The encoded file bytes (read from disk, or the data URI payload).
  std::string encoded() const;
  // The image as the reference's evaluation scripts take it (Image_URL): the
  // absolute path, or the data: URI as written.
  std::string url() const;
};

struct TaskRow {
  std::vector<ImageRef> images;  // resolved; empty only for text rows (row_from_json)
  std::string problem;           // the question, <image> where the image goes
  std::string answer;            // ground truth ("T"/"F" for TFQ); "" when absent
  std::string question_id;       // "" when the row has none (read_task_rows fills it)
  std::string image_id;          // the group of rows about one image; "" when the row has none
  std::string level;             // literal | symbolic | implication | ""
  std::string kind;              // the row's "kind", else its "kind:X" tag; ""
  std::string category;          // the key ReadTaskOptions::category_key names; ""
  std::vector<std::string> tags;
  bool heldout = false;
  size_t line = 0;  // 1-based line in the file
  // The row as read, every key: dataset-specific fields (options, facts,
  // hops, short_answer, ...) are read from here.
  Json raw;

  const ImageRef& image() const { return images.at(0); }
};

// The row's fields, read leniently (no key required, images not resolved,
// non-string values as their JSON): for loaders with rules of their own,
// such as training corpora whose rows may lack images and answers.
TaskRow row_from_json(const Json& row, size_t line);

struct BadRow {
  size_t line = 0;
  std::string problem;  // "FILE:LINE: what is wrong"
};

struct ReadOptions {
  // Off (default): the first bad row throws Error(BadInput) "FILE:LINE: problem".
  // On: bad rows are left out and listed in TaskFile::bad_rows.
  bool skip_bad_rows = false;
  // Decode every distinct image once to prove it is readable (otherwise only
  // existence of files and validity of data URIs is checked).
  bool decode_images = true;
  // The folder image paths must stay in ("" = the file's directory); a
  // relative path is still relative to the file.
  std::filesystem::path dataset_dir;
  // Further folders (absolute) that image paths may point into.
  std::vector<std::filesystem::path> image_roots;
  // Pixel budget of every image decoded (here and by load_image).
  int64_t max_pixels = kDefaultMaxPixels;
  // Off (default): a file without rows, or with none left once bad rows are
  // skipped, throws Error(BadInput) naming it: training on it would only
  // find out later. On for tools that look at whatever is there (preview).
  bool allow_empty = false;
};

struct TaskFile {
  std::filesystem::path path;
  std::vector<TaskRow> rows;
  std::vector<BadRow> bad_rows;
  size_t lines = 0;  // non-blank lines read
};

// A TFQ file, every row validated (answer "T" or "F", unique question_id,
// every image resolvable and, with decode_images, decodable).
TaskFile read_tfq_jsonl(const std::filesystem::path& path, const ReadOptions& options = {});

// The image of `ref` decoded (within ref.max_pixels), and letterboxed to
// size x size when size > 0 (see resize_letterbox). Throws Error(BadInput)
// naming the source.
Image load_image(const ImageRef& ref, int size = 0);

enum class TaskFormat {
  TrueFalse,  // tfq*.jsonl: validated by read_tfq_jsonl (answer T or F)
  Generic,    // images, problem, answer (a string) required
};

struct ReadTaskOptions {
  TaskFormat format = TaskFormat::Generic;
  std::string category_key;  // row key naming TaskRow::category ("level", "type"); "" = none
  size_t limit = 0;          // first N rows; 0 = all
  // With a limit, keep going until the last image's rows are complete
  // (group accuracy needs whole images).
  bool whole_groups = false;
};

// `file` inside `dir`, or inside `dir`/bench when `dir` is an artifact root
// with splits. Throws Error(BadInput) naming both places when absent.
std::filesystem::path find_task_file(const std::filesystem::path& dir, const std::string& file);

// The rows a benchmark evaluates: a task file of a dataset artifact,
// validated, with the image folders and pixel budget its import recorded
// (recorded_read_policy, mstar/data/import.h). A missing question_id becomes
// "FILESTEM-LINE", a missing image_id the first image's file stem (its data
// URI when inline); "heldout" falls back to the image's flag in the split's
// scenes.jsonl ({"image_id", "heldout"} rows). Throws Error(BadInput)
// "FILE:LINE: problem".
std::vector<TaskRow> read_task_rows(const std::filesystem::path& file, const ReadTaskOptions& options);

}  // namespace mstar::data
