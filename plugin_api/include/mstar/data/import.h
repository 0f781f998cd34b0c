// dataset/tfq_jsonl: copies a directory of TFQ JSONL exports (real TFQ-Data
// / TFQ-Bench, or a generated world) into an artifact, validating every row.
// Images given as data URIs become files; file images are copied or linked.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mstar/data/image.h"
#include "mstar/json.h"
#include "mstar/params.h"

namespace mstar::data {

enum class LinkMode { Copy, Hardlink, Symlink };

struct ImportOptions {
  bool skip_bad_rows = false;
  LinkMode link = LinkMode::Copy;
  // Split for JSONL files lying directly in the source directory (or for a
  // source that is one file).
  std::string default_split = "train";
  // File names to import; empty: every *.jsonl whose name starts with "tfq".
  std::vector<std::string> files;
  // Rows of the first N images of each file only (data-scaling studies);
  // 0 = every row.
  size_t max_images = 0;
  // Absolute folders besides `source` that image paths may point into
  // (exports that name images by absolute path).
  std::vector<std::filesystem::path> image_roots;
  // Images declaring more pixels are bad rows (refused before decoding).
  int64_t max_pixels = kDefaultMaxPixels;
};

struct ImportReport {
  size_t rows = 0;
  size_t bad_rows = 0;
  size_t images = 0;
  std::vector<std::string> problems;  // "FILE:LINE: ..." of skipped rows
  Json files;                         // {split: {file: {"rows", "bad_rows"}}}
};

// Output layout: out_dir/SPLIT/FILE.jsonl with images under out_dir/SPLIT/img/
// (file images keep their relative path when it stays inside the split),
// plus out_dir/import_report.json. Rows keep every key; "images" is
// rewritten to the new relative paths, and a missing "question_id" becomes
// "FILESTEM-LINE", a missing "image_id" the image's file stem.
//
// Image paths are confined (mstar/data/paths.h) to `source` (its directory
// when it is one file) and options.image_roots. An empty file, or one left
// without rows by skip_bad_rows, is an error naming it.
ImportReport import_tfq(const std::filesystem::path& source, const std::filesystem::path& out_dir,
                        const ImportOptions& options);

// How to read an imported artifact back, as import_report.json records it:
// with link: symlink its images point into the import's source folder and
// image_roots, which a loader of the artifact must then allow; and the
// pixel budget its images were checked with. `dir` is the artifact root or
// one of its splits; a directory no import wrote gives the defaults.
struct ReadPolicy {
  std::vector<std::filesystem::path> image_roots;
  int64_t max_pixels = kDefaultMaxPixels;
};
ReadPolicy recorded_read_policy(const std::filesystem::path& dir);

ParamSchema tfq_import_param_schema();
ImportOptions tfq_import_options_from_params(const Json& params);

}  // namespace mstar::data
