#include "mstar/data/jsonl.h"

#include <fstream>

#include "mstar/artifact.h"
#include "mstar/error.h"

namespace mstar::data {

namespace fs = std::filesystem;

std::string location(const fs::path& file, size_t line) { return file.string() + ":" + std::to_string(line); }

void for_each_jsonl(const fs::path& path, const std::function<void(size_t, const Json&)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot read " + path.string());
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json row;
    try {
      row = Json::parse(line);
    } catch (const Json::exception& e) {
      throw_bad_input(location(path, number) + ": not valid JSON: " + e.what());
    }
    if (!row.is_object())
      throw_bad_input(location(path, number) + ": expected a JSON object, got " + std::string(row.type_name()));
    fn(number, row);
  }
}

void write_jsonl(const fs::path& file, const std::vector<Json>& lines) {
  std::string text;
  for (const Json& line : lines) text += line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  write_file_atomic(file, text);
}

std::string field_text(const Json& row, const std::string& key) {
  if (!row.is_object() || !row.contains(key) || row[key].is_null()) return "";
  if (row[key].is_string()) return row[key].get<std::string>();
  return row[key].dump();
}

}  // namespace mstar::data
