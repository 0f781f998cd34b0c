// Reading and validating TFQ JSONL files: the generator's output and real
// TFQ-Data / TFQ-Bench exports alike.
//
// A row: {"images": ["img/000123.png"], "problem": "<image> ...", "answer": "T"|"F",
//         "image_id": "...", "question_id": "...", "level": "literal|symbolic|implication",
//         "tags": [...], "heldout": true}
// images, problem and answer are required (the Hugging Face exports carry
// only these); the others are optional but must have the right type. An
// image is a path relative to the JSONL file's directory (or absolute), or
// a data:image/png;base64,... / data:image/jpeg;base64,... URI. A path must
// resolve, symlinks followed, inside the dataset folder or one of the
// image_roots (mstar/data/paths.h).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/world/image.h"

namespace mstar::world {

struct ImageRef {
  std::string source;               // as written in the row
  std::filesystem::path path;       // resolved file (canonical, confined); empty for a data URI
  std::string mime;                 // data URIs: "image/png" or "image/jpeg"
  std::shared_ptr<const std::string> bytes;  // data URIs: the decoded payload
  int64_t max_pixels = kDefaultMaxPixels;    // the budget load_image decodes it with

  bool inline_data() const { return path.empty(); }
  // The encoded file bytes (read from disk, or the data URI payload).
  std::string encoded() const;
};

struct TfqRow {
  std::vector<ImageRef> images;
  std::string problem;
  std::string answer;       // "T" or "F"
  std::string image_id;     // "" when the row has none
  std::string question_id;  // "" when the row has none
  std::string level;        // "" when the row has none
  std::vector<std::string> tags;
  bool heldout = false;
  size_t line = 0;          // 1-based line in the file
  Json raw;                 // the row as read (extra keys included)
};

struct BadRow {
  size_t line = 0;
  std::string problem;  // "FILE:LINE: what is wrong"
};

struct ReadOptions {
  // Off (default): the first bad row throws Error(BadInput) "FILE:LINE: problem".
  // On: bad rows are left out and listed in TfqFile::bad_rows.
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

struct TfqFile {
  std::filesystem::path path;
  std::vector<TfqRow> rows;
  std::vector<BadRow> bad_rows;
  size_t lines = 0;  // non-blank lines read
};

TfqFile read_tfq_jsonl(const std::filesystem::path& path, const ReadOptions& options = {});

// The image of `ref` decoded (within ref.max_pixels), and letterboxed to
// size x size when size > 0 (see resize_letterbox). Throws Error(BadInput)
// naming the source.
Image load_image(const ImageRef& ref, int size = 0);

// Calls `fn(line, row)` for every non-blank line of a JSONL file; a line
// that is not a JSON object throws Error(BadInput) "FILE:LINE: ...".
void for_each_jsonl(const std::filesystem::path& path, const std::function<void(size_t, const Json&)>& fn);

}  // namespace mstar::world
