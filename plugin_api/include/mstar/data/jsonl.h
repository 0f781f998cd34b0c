// JSONL files: one JSON object per line. Every reader of dataset rows goes
// through for_each_jsonl, so a malformed line is always reported as
// "FILE:LINE: ..." (the line number counts blank lines too, as editors do).
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mstar/json.h"

namespace mstar::data {

// Calls `fn(line, row)` for every non-blank line of a JSONL file; a line
// that is not a JSON object throws Error(BadInput) "FILE:LINE: ...". An
// unreadable file throws Error(Io) naming it.
void for_each_jsonl(const std::filesystem::path& path, const std::function<void(size_t, const Json&)>& fn);

// Writes one JSON object per line, atomically (invalid UTF-8 is replaced,
// so a model's output never makes the file unwritable).
void write_jsonl(const std::filesystem::path& file, const std::vector<Json>& lines);

// "FILE:LINE", the prefix of every row error.
std::string location(const std::filesystem::path& file, size_t line);

// A row's `key` as text: "" when absent or null, a string as it is, any
// other value as its JSON ("3", "true").
std::string field_text(const Json& row, const std::string& key);

}  // namespace mstar::data
