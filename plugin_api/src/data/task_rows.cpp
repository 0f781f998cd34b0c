// read_task_rows: the rows of a task file as a benchmark evaluates them.
#include <map>
#include <memory>
#include <set>

#include "mstar/data/import.h"
#include "mstar/data/paths.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"

namespace mstar::data {

namespace fs = std::filesystem;

namespace {

// image_id -> heldout, from the split's scenes.jsonl (absent: empty map).
std::map<std::string, bool> heldout_images(const fs::path& dir) {
  std::map<std::string, bool> out;
  const fs::path scenes = dir / "scenes.jsonl";
  if (!fs::is_regular_file(scenes)) return out;
  for_each_jsonl(scenes, [&](size_t, const Json& scene) {
    if (scene.contains("image_id") && scene["image_id"].is_string())
      out[scene["image_id"].get<std::string>()] = scene.value("heldout", false);
  });
  return out;
}

ImageRef resolve_image(const std::string& source, const PathConfinement& confinement, int64_t max_pixels,
                       const std::string& at) {
  const std::string where = at + ": ";
  ImageRef ref;
  ref.source = source;
  ref.max_pixels = max_pixels;
  if (is_data_uri(source)) {
    std::string why;
    auto uri = parse_data_uri(source, &why);
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

TaskRow generic_row(const Json& row, const fs::path& file, size_t line, const PathConfinement& confinement,
                    int64_t max_pixels) {
  const std::string at = location(file, line);
  const std::string where = at + ": ";
  for (const char* key : {"images", "problem", "answer"})
    if (!row.contains(key)) throw_bad_input(where + "missing key '" + key + "'");
  const Json& images = row["images"];
  if (!images.is_array() || images.empty() || !images[0].is_string())
    throw_bad_input(where + "'images' must be a non-empty list of strings");
  if (!row["problem"].is_string()) throw_bad_input(where + "'problem' must be a string");
  if (!row["answer"].is_string()) throw_bad_input(where + "'answer' must be a string");
  TaskRow out = row_from_json(row, line);
  // The first image is the row's (benchmarks show one image per question).
  out.images.push_back(resolve_image(images[0].get<std::string>(), confinement, max_pixels, at));
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
  const ReadPolicy policy = recorded_read_policy(dir);
  if (options.format == TaskFormat::TrueFalse) {
    ReadOptions read;
    read.image_roots = policy.image_roots;
    read.max_pixels = policy.max_pixels;
    rows = read_tfq_jsonl(file, read).rows;
  } else {
    std::set<std::string> ids;
    const PathConfinement confinement(dir, policy.image_roots);
    for_each_jsonl(file, [&](size_t line, const Json& row) {
      rows.push_back(generic_row(row, file, line, confinement, policy.max_pixels));
      const std::string& id = rows.back().question_id;
      if (!id.empty() && !ids.insert(id).second)
        throw_bad_input(location(file, line) + ": duplicate question_id '" + id + "'");
    });
    if (rows.empty()) throw_bad_input(file.string() + ": no rows (the file is empty)");
  }

  const auto heldout = heldout_images(file.parent_path());
  const std::string stem = file.stem().string();
  for (auto& r : rows) {
    r.category = options.category_key.empty() ? "" : field_text(r.raw, options.category_key);
    if (r.question_id.empty()) r.question_id = stem + "-" + std::to_string(r.line);
    // The stem as written: the resolved path of a symlinked image names its target.
    if (r.image_id.empty()) r.image_id = r.image().inline_data() ? r.image().url() : fs::path(r.image().source).stem().string();
    if (!r.raw.contains("heldout"))
      if (auto it = heldout.find(r.image_id); it != heldout.end()) r.heldout = it->second;
  }

  if (options.limit == 0 || rows.size() <= options.limit) return rows;
  size_t keep = options.limit;
  if (options.whole_groups)
    while (keep < rows.size() && rows[keep].image().url() == rows[keep - 1].image().url()) ++keep;
  rows.resize(keep);
  return rows;
}

}  // namespace mstar::data
