// Looking at a dataset directory (what `mstar data preview` and `mstar data
// stats` print). `dir` may be an artifact root with split subdirectories
// (train/, bench/), a single split directory, or any directory of JSONL files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mstar/json.h"

namespace mstar::world {

// (split name, directory) pairs: `dir` itself when it holds *.jsonl files
// (named after the directory), then each subdirectory that does, sorted.
std::vector<std::pair<std::string, std::filesystem::path>> find_splits(const std::filesystem::path& dir);

// A self-contained HTML page: up to `max_images` images (base64-embedded
// thumbnails) with their T/F statements, answers and levels, and the scene's
// ground truth when scenes.jsonl is present.
std::string render_preview_html(const std::filesystem::path& dataset_dir, size_t max_images);

// {"dir", "splits": {NAME: {"files": {FILE: {"rows", "images", "answers",
// "levels": {LEVEL: {"T", "F", "true_fraction"}}, "kinds", "heldout_rows"}},
// "scenes": {"images", "relations", "symbols", "symbols_per_image",
// "heldout_images"}}}}. Counts only what the files contain.
Json dataset_stats(const std::filesystem::path& dataset_dir);

}  // namespace mstar::world
