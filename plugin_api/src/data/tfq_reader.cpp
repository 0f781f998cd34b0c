#include "mstar/data/rows.h"

#include <fstream>
#include <map>

#include "mstar/artifact.h"
#include "mstar/data/paths.h"
#include "mstar/error.h"

namespace mstar::data {

namespace fs = std::filesystem;

std::string ImageRef::encoded() const {
  if (bytes) return *bytes;
  return read_file(path);
}

std::string ImageRef::url() const { return inline_data() ? source : fs::absolute(path).lexically_normal().string(); }

// TFQ rows say what a statement tests in a "kind:X" tag (the world's
// literal statements: present, colour, position, layout, count), corpora in
// a "kind" field.
static std::string kind_of(const Json& row) {
  std::string kind = field_text(row, "kind");
  if (!kind.empty() || !row.contains("tags") || !row["tags"].is_array()) return kind;
  for (const Json& tag : row["tags"])
    if (tag.is_string() && tag.get<std::string>().rfind("kind:", 0) == 0) return tag.get<std::string>().substr(5);
  return kind;
}

TaskRow row_from_json(const Json& row, size_t line) {
  TaskRow out;
  out.problem = field_text(row, "problem");
  out.answer = field_text(row, "answer");
  out.question_id = field_text(row, "question_id");
  out.image_id = field_text(row, "image_id");
  out.level = field_text(row, "level");
  out.kind = kind_of(row);
  if (row.contains("tags") && row["tags"].is_array())
    for (const Json& t : row["tags"])
      if (t.is_string()) out.tags.push_back(t.get<std::string>());
  if (row.contains("heldout") && row["heldout"].is_boolean()) out.heldout = row["heldout"].get<bool>();
  out.line = line;
  out.raw = row;
  return out;
}

Image load_image(const ImageRef& ref, int size) {
  const std::string what = ref.inline_data() ? "data URI image" : ref.path.string();
  if (!ref.inline_data() && !fs::is_regular_file(ref.path)) throw_bad_input(what + ": image file not found");
  Image image = decode_image(ref.encoded(), what, ref.max_pixels);
  return size > 0 ? resize_letterbox(image, size) : image;
}

namespace {

// Thrown inside the reader for one row; becomes Error or BadRow.
struct RowProblem {
  std::string message;
};

[[noreturn]] void bad(std::string message) { throw RowProblem{std::move(message)}; }

std::string optional_string(const Json& row, const char* key) {
  if (!row.contains(key) || row[key].is_null()) return "";
  if (row[key].is_string()) return row[key].get<std::string>();
  if (row[key].is_number_integer() && std::string(key) != "level") return std::to_string(row[key].get<int64_t>());
  bad(std::string("'") + key + "' must be a string, got " + row[key].type_name());
}

class ImageChecker {
 public:
  ImageChecker(const data::PathConfinement& confinement, fs::path file_dir, const ReadOptions& options)
      : confinement_(confinement),
        file_dir_(std::move(file_dir)),
        decode_(options.decode_images),
        max_pixels_(options.max_pixels) {}

  ImageRef check(const std::string& source) {
    ImageRef ref;
    ref.source = source;
    ref.max_pixels = max_pixels_;
    if (is_data_uri(source)) {
      std::string why;
      auto uri = parse_data_uri(source, &why);
      if (!uri) bad("image: " + why);
      ref.mime = uri->mime;
      ref.bytes = std::make_shared<const std::string>(std::move(uri->bytes));
      if (decode_) decode_image(*ref.bytes, "data URI image", max_pixels_);  // throws Error(BadInput)
      return ref;
    }
    if (source.empty()) bad("image: empty path");
    try {
      ref.path = confinement_.resolve(source, "", file_dir_);
    } catch (const Error& e) {
      bad(std::string("image: ") + e.what());
    }
    auto seen = known_.find(ref.path.string());
    if (seen != known_.end()) {
      if (!seen->second.empty()) bad(seen->second);
      return ref;
    }
    std::string problem;
    if (!fs::is_regular_file(ref.path)) {
      problem = "image '" + source + "' not found (looked for " + ref.path.string() + ")";
    } else if (decode_) {
      try {
        decode_image(read_file(ref.path), "image '" + source + "'", max_pixels_);
      } catch (const Error& e) {
        problem = e.what();
      }
    }
    known_[ref.path.string()] = problem;
    if (!problem.empty()) bad(problem);
    return ref;
  }

 private:
  const data::PathConfinement& confinement_;
  fs::path file_dir_;  // relative image paths start here
  bool decode_;
  int64_t max_pixels_;
  std::map<std::string, std::string> known_;  // canonical path -> problem ("" = fine)
};

TaskRow parse_row(const Json& row, ImageChecker& images) {
  TaskRow out;
  for (const char* key : {"images", "problem", "answer"})
    if (!row.contains(key)) bad(std::string("missing key '") + key + "'");
  const Json& imgs = row["images"];
  if (!imgs.is_array()) bad(std::string("'images' must be a list of strings, got ") + imgs.type_name());
  if (imgs.empty()) bad("'images' is empty");
  for (const Json& img : imgs)
    if (!img.is_string()) bad(std::string("'images' must be a list of strings, found a ") + img.type_name());
  if (!row["problem"].is_string()) bad(std::string("'problem' must be a string, got ") + row["problem"].type_name());
  if (!row["answer"].is_string()) bad(std::string("'answer' must be a string, got ") + row["answer"].type_name());
  out.answer = row["answer"].get<std::string>();
  if (out.answer != "T" && out.answer != "F") bad("answer must be \"T\" or \"F\", got \"" + out.answer + "\"");
  out.problem = row["problem"].get<std::string>();
  out.image_id = optional_string(row, "image_id");
  out.question_id = optional_string(row, "question_id");
  out.level = optional_string(row, "level");
  if (row.contains("tags") && !row["tags"].is_null()) {
    if (!row["tags"].is_array()) bad(std::string("'tags' must be a list of strings, got ") + row["tags"].type_name());
    for (const Json& t : row["tags"]) {
      if (!t.is_string()) bad("'tags' must be a list of strings");
      out.tags.push_back(t.get<std::string>());
    }
  }
  if (row.contains("heldout") && !row["heldout"].is_null()) {
    if (!row["heldout"].is_boolean()) bad(std::string("'heldout' must be true or false, got ") + row["heldout"].type_name());
    out.heldout = row["heldout"].get<bool>();
  }
  out.kind = kind_of(row);
  for (const Json& img : imgs) out.images.push_back(images.check(img.get<std::string>()));
  return out;
}

}  // namespace

TaskFile read_tfq_jsonl(const fs::path& path, const ReadOptions& options) {
  TaskFile file;
  file.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot read " + path.string());
  const fs::path file_dir = fs::absolute(path).parent_path();
  const data::PathConfinement confinement(options.dataset_dir.empty() ? file_dir : options.dataset_dir,
                                          options.image_roots);
  ImageChecker images(confinement, file_dir, options);
  std::map<std::string, size_t> question_lines;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++file.lines;
    const std::string where = location(path, number) + ": ";
    try {
      Json row;
      try {
        row = Json::parse(line);
      } catch (const Json::exception& e) {
        bad(std::string("not valid JSON: ") + e.what());
      }
      if (!row.is_object()) bad(std::string("expected a JSON object, got ") + row.type_name());
      TaskRow parsed;
      try {
        parsed = parse_row(row, images);
      } catch (const Error& e) {  // undecodable data URI image
        bad(e.what());
      }
      if (!parsed.question_id.empty()) {
        auto [it, fresh] = question_lines.emplace(parsed.question_id, number);
        if (!fresh)
          bad("duplicate question_id '" + parsed.question_id + "' (first at line " + std::to_string(it->second) + ")");
      }
      parsed.line = number;
      parsed.raw = std::move(row);
      file.rows.push_back(std::move(parsed));
    } catch (const RowProblem& p) {
      if (!options.skip_bad_rows) throw_bad_input(where + p.message);
      file.bad_rows.push_back({number, where + p.message});
    }
  }
  if (file.rows.empty() && !options.allow_empty) {
    if (file.bad_rows.empty()) throw_bad_input(path.string() + ": no rows (the file is empty)");
    throw_bad_input(path.string() + ": no rows left: all " + std::to_string(file.bad_rows.size()) +
                    " rows are bad (first: " + file.bad_rows.front().problem + ")");
  }
  return file;
}

}  // namespace mstar::data
