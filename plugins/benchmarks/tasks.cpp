#include "tasks.h"

#include <map>
#include <memory>
#include <set>

#include "mstar/artifact.h"
#include "mstar/data/paths.h"
#include "mstar/error.h"
#include "mstar/world/image.h"
#include "mstar/world/tfq_import.h"

namespace mstar::bench {

namespace fs = std::filesystem;

namespace {

// image_id -> heldout, from the split's scenes.jsonl (absent: empty map).
std::map<std::string, bool> heldout_images(const fs::path& dir) {
  std::map<std::string, bool> out;
  const fs::path scenes = dir / "scenes.jsonl";
  if (!fs::is_regular_file(scenes)) return out;
  world::for_each_jsonl(scenes, [&](size_t, const Json& scene) {
    if (scene.contains("image_id") && scene["image_id"].is_string())
      out[scene["image_id"].get<std::string>()] = scene.value("heldout", false);
  });
  return out;
}

std::string string_field(const Json& row, const char* key) {
  if (!row.contains(key) || row[key].is_null()) return "";
  if (row[key].is_string()) return row[key].get<std::string>();
  if (row[key].is_number_integer()) return std::to_string(row[key].get<int64_t>());
  return row[key].dump();
}

world::ImageRef resolve_image(const std::string& source, const data::PathConfinement& confinement,
                              int64_t max_pixels, const std::string& at) {
  const std::string where = at + ": ";
  world::ImageRef ref;
  ref.source = source;
  ref.max_pixels = max_pixels;
  if (world::is_data_uri(source)) {
    std::string why;
    auto uri = world::parse_data_uri(source, &why);
    if (!uri) throw_bad_input(where + "image: " + why);
    ref.mime = uri->mime;
    ref.bytes = std::make_shared<const std::string>(std::move(uri->bytes));
    return ref;
  }
  if (source.empty()) throw_bad_input(where + "image: empty path");
  ref.path = confinement.resolve(source, at);
  if (!fs::is_regular_file(ref.path))
    throw_bad_input(where + "image '" + source + "' not found (looked for " + ref.path.string() + ")");
  return ref;
}

std::string image_url(const world::ImageRef& ref) {
  return ref.inline_data() ? ref.source : fs::absolute(ref.path).lexically_normal().string();
}

TaskRow generic_row(const Json& row, const fs::path& file, size_t line, const std::string& category_key,
                    const data::PathConfinement& confinement, int64_t max_pixels) {
  const std::string at = file.string() + ":" + std::to_string(line);
  const std::string where = at + ": ";
  for (const char* key : {"images", "problem", "answer"})
    if (!row.contains(key)) throw_bad_input(where + "missing key '" + key + "'");
  const Json& images = row["images"];
  if (!images.is_array() || images.empty() || !images[0].is_string())
    throw_bad_input(where + "'images' must be a non-empty list of strings");
  if (!row["problem"].is_string()) throw_bad_input(where + "'problem' must be a string");
  if (!row["answer"].is_string()) throw_bad_input(where + "'answer' must be a string");
  TaskRow out;
  out.raw = row;
  out.line = line;
  out.problem = row["problem"].get<std::string>();
  out.answer = row["answer"].get<std::string>();
  out.question_id = string_field(row, "question_id");
  out.image_id = string_field(row, "image_id");
  if (!category_key.empty()) out.category = string_field(row, category_key.c_str());
  if (row.contains("heldout") && row["heldout"].is_boolean()) out.heldout = row["heldout"].get<bool>();
  out.image = resolve_image(images[0].get<std::string>(), confinement, max_pixels, at);
  return out;
}

}  // namespace

fs::path find_task_file(const fs::path& dir, const std::string& file) {
  const fs::path direct = dir / file;
  if (fs::is_regular_file(direct)) return direct;
  const fs::path split = dir / "bench" / file;
  if (fs::is_regular_file(split)) return split;
  throw_bad_input("task file '" + file + "' not found: looked for " + direct.string() + " and " + split.string() +
                  " (wire a split such as world.bench to `data`, or set `file`)");
}

std::vector<TaskRow> read_task_rows(const fs::path& file, const ReadTaskOptions& options) {
  std::vector<TaskRow> rows;
  // The rows come from an artifact; what its import allowed (the folders an
  // import with link: symlink points into), this allows too, and no more.
  const fs::path dir = fs::absolute(file).parent_path();
  const world::ReadPolicy policy = world::recorded_read_policy(dir);
  if (options.format == TaskFormat::TrueFalse) {
    world::ReadOptions read;
    read.image_roots = policy.image_roots;
    read.max_pixels = policy.max_pixels;
    world::TfqFile tfq = world::read_tfq_jsonl(file, read);
    for (auto& r : tfq.rows) {
      TaskRow out;
      out.raw = std::move(r.raw);
      out.line = r.line;
      out.problem = r.problem;
      out.answer = r.answer;
      out.question_id = r.question_id;
      out.image_id = r.image_id;
      out.category = options.category_key.empty() ? "" : string_field(out.raw, options.category_key.c_str());
      out.heldout = r.heldout;
      out.image = r.images.front();
      rows.push_back(std::move(out));
    }
  } else {
    std::set<std::string> ids;
    const data::PathConfinement confinement(dir, policy.image_roots);
    world::for_each_jsonl(file, [&](size_t line, const Json& row) {
      rows.push_back(generic_row(row, file, line, options.category_key, confinement, policy.max_pixels));
      const std::string& id = rows.back().question_id;
      if (!id.empty() && !ids.insert(id).second)
        throw_bad_input(file.string() + ":" + std::to_string(line) + ": duplicate question_id '" + id + "'");
    });
    if (rows.empty()) throw_bad_input(file.string() + ": no rows (the file is empty)");
  }

  const auto heldout = heldout_images(file.parent_path());
  const std::string stem = file.stem().string();
  for (auto& r : rows) {
    r.image_url = image_url(r.image);
    if (r.question_id.empty()) r.question_id = stem + "-" + std::to_string(r.line);
    // The stem as written: the resolved path of a symlinked image names its target.
    if (r.image_id.empty()) r.image_id = r.image.inline_data() ? r.image_url : fs::path(r.image.source).stem().string();
    if (!r.raw.contains("heldout"))
      if (auto it = heldout.find(r.image_id); it != heldout.end()) r.heldout = it->second;
  }

  if (options.limit == 0 || rows.size() <= options.limit) return rows;
  size_t keep = options.limit;
  if (options.whole_groups)
    while (keep < rows.size() && rows[keep].image_url == rows[keep - 1].image_url) ++keep;
  rows.resize(keep);
  return rows;
}

Json reference_entry(const TaskRow& row, const std::string& model_output) {
  return Json{{"Question_ID", row.question_id},
              {"Question", row.problem},
              {"Model_Output", model_output},
              {"Ground_Truth", row.answer},
              {"Image_URL", row.image_url}};
}

void write_jsonl(const fs::path& file, const std::vector<Json>& lines) {
  std::string text;
  for (const Json& line : lines) text += line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  write_file_atomic(file, text);
}

}  // namespace mstar::bench
