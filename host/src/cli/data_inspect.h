// Looking at a dataset directory (what `mstar data preview` and `mstar data
// stats` print), through the plugin API's reader only: the host knows no
// dataset plugin. `dir` may be an artifact root with split subdirectories
// (train/, bench/), a single split directory, or any directory of JSONL files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mstar/json.h"

namespace mstar::cli {

// (split name, directory) pairs: `dir` itself when it holds *.jsonl files
// (named after the directory), then each subdirectory that does, sorted.
std::vector<std::pair<std::string, std::filesystem::path>> find_splits(const std::filesystem::path& dir);

// A self-contained HTML page: up to `max_images` images (base64-embedded
// thumbnails) with their T/F statements, answers and levels, and the
// image's "caption" and "message" when the split's scenes.jsonl has a row
// with its image_id.
std::string render_preview_html(const std::filesystem::path& dataset_dir, size_t max_images);

// {"dir", "splits": {NAME: {"files": {FILE: {"rows", "images", "answers",
// "levels": {LEVEL: {"T", "F", "true_fraction"}}, "kinds", "heldout_rows"}},
// ...}}}. Counts only what the files contain, plus what the dataset plugin
// recorded about each split in its artifact's manifest ("split_stats":
// {SPLIT: {KEY: value}}, e.g. the implication world's "scenes": relations,
// symbols, symbols per image, held-out images), merged into the split.
Json dataset_stats(const std::filesystem::path& dataset_dir);

}  // namespace mstar::cli
