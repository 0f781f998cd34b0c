#include "mstar/data/import.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/paths.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"

namespace mstar::data {

namespace fs = std::filesystem;

namespace {

uint64_t fnv1a(std::string_view bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001B3ull;
  }
  return h;
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool selected(const fs::path& file, const ImportOptions& options) {
  const std::string name = file.filename().string();
  if (file.extension() != ".jsonl") return false;
  if (options.files.empty()) return name.rfind("tfq", 0) == 0;
  return std::find(options.files.begin(), options.files.end(), name) != options.files.end();
}

std::vector<fs::path> selected_files(const fs::path& dir, const ImportOptions& options) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && selected(e.path(), options)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A relative path that stays inside its directory ("img/1.png", not "../x").
bool stays_inside(const std::string& source) {
  const fs::path p = fs::path(source).lexically_normal();
  if (p.is_absolute() || p.empty()) return false;
  const std::string first = p.begin()->string();
  return first != ".." && first != ".";
}

class ImageSink {
 public:
  ImageSink(fs::path split_dir, LinkMode mode) : dir_(std::move(split_dir)), mode_(mode) {}

  // Returns the image's path relative to the split directory.
  std::string place(const ImageRef& ref) {
    if (ref.inline_data()) {
      const std::string ext = ref.mime == "image/jpeg" ? ".jpg" : ".png";
      const std::string rel = "img/" + hex(fnv1a(*ref.bytes)) + ext;
      if (written_.insert(rel).second) {
        fs::create_directories((dir_ / rel).parent_path());
        write_file_atomic(dir_ / rel, *ref.bytes);
      }
      return rel;
    }
    auto known = placed_.find(ref.path.string());
    if (known != placed_.end()) return known->second;
    std::string rel = stays_inside(ref.source)
                          ? fs::path(ref.source).lexically_normal().generic_string()
                          : "img/ext-" + hex(fnv1a(ref.path.string())) + ref.path.extension().string();
    if (!written_.insert(rel).second) rel = "img/dup-" + hex(fnv1a(ref.path.string())) + ref.path.extension().string();
    written_.insert(rel);
    const fs::path dest = dir_ / rel;
    fs::create_directories(dest.parent_path());
    std::error_code ec;
    fs::remove(dest, ec);
    ec.clear();
    if (mode_ == LinkMode::Symlink) fs::create_symlink(fs::absolute(ref.path), dest, ec);
    else if (mode_ == LinkMode::Hardlink) fs::create_hard_link(ref.path, dest, ec);
    if (mode_ == LinkMode::Copy || ec) {  // a hard link across file systems falls back to a copy
      ec.clear();
      fs::copy_file(ref.path, dest, fs::copy_options::overwrite_existing, ec);
      if (ec) throw_io("cannot copy " + ref.path.string() + " to " + dest.string() + ": " + ec.message());
    }
    placed_[ref.path.string()] = rel;
    return rel;
  }
  size_t count() const { return written_.size(); }

 private:
  fs::path dir_;
  LinkMode mode_;
  std::set<std::string> written_;
  std::map<std::string, std::string> placed_;
};

}  // namespace

ImportReport import_tfq(const fs::path& source, const fs::path& out_dir, const ImportOptions& options) {
  if (!fs::exists(source)) throw_bad_input("tfq_jsonl: source " + source.string() + " does not exist");
  std::vector<std::pair<std::string, std::vector<fs::path>>> splits;
  if (fs::is_regular_file(source)) {
    splits.push_back({options.default_split, {source}});
  } else {
    auto top = selected_files(source, options);
    if (!top.empty()) splits.push_back({options.default_split, top});
    std::vector<fs::path> subdirs;
    for (const auto& e : fs::directory_iterator(source))
      if (e.is_directory()) subdirs.push_back(e.path());
    std::sort(subdirs.begin(), subdirs.end());
    for (const auto& d : subdirs) {
      auto files = selected_files(d, options);
      if (!files.empty()) splits.push_back({d.filename().string(), files});
    }
  }
  if (splits.empty())
    throw_bad_input("tfq_jsonl: no TFQ JSONL files in " + source.string() +
                    (options.files.empty() ? " (looked for tfq*.jsonl in it and its subdirectories)" : ""));

  ImportReport report;
  report.files = Json::object();
  ReadOptions read;
  read.skip_bad_rows = options.skip_bad_rows;
  read.dataset_dir = fs::is_regular_file(source) ? fs::absolute(source).parent_path() : source;
  read.image_roots = options.image_roots;
  read.max_pixels = options.max_pixels;
  // Symlinks in the artifact point where the rows did: readers of the
  // artifact must allow those folders (and only those).
  const data::PathConfinement confinement(read.dataset_dir, options.image_roots);  // checks the roots
  Json recorded_roots = Json::array();
  if (options.link == LinkMode::Symlink) {
    recorded_roots.push_back(confinement.dataset_dir().string());
    for (const fs::path& root : confinement.image_roots()) recorded_roots.push_back(root.string());
  }
  for (const auto& [split, files] : splits) {
    const fs::path split_dir = out_dir / split;
    fs::create_directories(split_dir);
    ImageSink sink(split_dir, options.link);
    for (const fs::path& file : files) {
      const TaskFile tfq = read_tfq_jsonl(file, read);
      const std::string stem = file.stem().string();
      std::string text;
      std::set<std::string> kept_images;
      size_t kept = 0;
      for (const TaskRow& row : tfq.rows) {
        if (options.max_images > 0) {
          const std::string image = row.image_id.empty() ? row.images.at(0).source : row.image_id;
          if (!kept_images.count(image) && kept_images.size() >= options.max_images) continue;
          kept_images.insert(image);
        }
        ++kept;
        Json out = row.raw;
        Json images = Json::array();
        for (const ImageRef& ref : row.images) images.push_back(sink.place(ref));
        out["images"] = images;
        if (row.question_id.empty()) out["question_id"] = stem + "-" + std::to_string(row.line);
        if (row.image_id.empty()) out["image_id"] = fs::path(images[0].get<std::string>()).stem().string();
        text += out.dump() + "\n";
      }
      fs::path dest = split_dir / file.filename();
      write_file_atomic(dest, text);
      report.rows += kept;
      report.bad_rows += tfq.bad_rows.size();
      for (const BadRow& b : tfq.bad_rows) report.problems.push_back(b.problem);
      report.files[split][file.filename().string()] = {{"rows", kept}, {"bad_rows", tfq.bad_rows.size()},
                                                        {"source", file.string()}};
    }
    report.images += sink.count();
  }
  Json summary{{"source", source.string()},  {"rows", report.rows},         {"bad_rows", report.bad_rows},
               {"images", report.images},    {"files", report.files},       {"problems", report.problems},
               {"image_roots", recorded_roots}, {"max_image_pixels", options.max_pixels}};
  write_file_atomic(out_dir / "import_report.json", summary.dump(2) + "\n");
  return report;
}

ReadPolicy recorded_read_policy(const fs::path& dir) {
  ReadPolicy policy;
  for (const fs::path& candidate : {dir / "import_report.json", dir.parent_path() / "import_report.json"}) {
    if (!fs::is_regular_file(candidate)) continue;
    Json report;
    try {
      report = Json::parse(read_file(candidate));
    } catch (const Json::exception& e) {
      throw_io(candidate.string() + ": not valid JSON: " + e.what());
    }
    if (report.contains("image_roots") && report["image_roots"].is_array())
      for (const Json& root : report["image_roots"])
        if (root.is_string()) policy.image_roots.emplace_back(root.get<std::string>());
    if (report.contains("max_image_pixels") && report["max_image_pixels"].is_number_integer())
      policy.max_pixels = report["max_image_pixels"].get<int64_t>();
    break;
  }
  return policy;
}

ParamSchema tfq_import_param_schema() {
  ParamSchema s;
  s.add(ParamSpec::string("source").def("").describe(
      "directory of exports (train/, bench/ subdirectories or *.jsonl directly) or one .jsonl file; \"\" = the "
      "`data` input's directory"));
  s.add(ParamSpec::string("split").def("train").describe("split for JSONL files directly in `source`"));
  s.add(ParamSpec::list("files", "string").def(Json::array()).describe("file names to import; empty: every tfq*.jsonl"));
  s.add(ParamSpec::boolean("skip_bad_rows").def(false).describe("leave bad rows out and count them instead of failing"));
  s.add(ParamSpec::enumeration("link", {"copy", "hardlink", "symlink"}).def("copy")
            .describe("how image files enter the artifact"));
  s.add(ParamSpec::integer("max_images").def(0).range(0, 1 << 30).describe(
      "keep the rows of the first N images of each file (data scaling); 0 = all"));
  s.add(ParamSpec::list("image_roots", "string").def(Json::array()).describe(
      "absolute folders besides `source` that image paths may point into (symlinks followed); any other path "
      "outside `source` is an error"));
  s.add(ParamSpec::integer("max_image_pixels").def(kDefaultMaxPixels).at_least(1).describe(
      "images declaring more pixels (width x height) are refused before decoding"));
  return s;
}

ImportOptions tfq_import_options_from_params(const Json& p) {
  ImportOptions o;
  o.skip_bad_rows = p.value("skip_bad_rows", false);
  o.default_split = p.value("split", std::string("train"));
  if (p.contains("files") && p["files"].is_array())
    for (const Json& f : p["files"]) o.files.push_back(f.get<std::string>());
  const std::string link = p.value("link", std::string("copy"));
  o.max_images = static_cast<size_t>(p.value("max_images", 0));
  if (p.contains("image_roots") && p["image_roots"].is_array())
    for (const Json& r : p["image_roots"]) o.image_roots.emplace_back(r.get<std::string>());
  o.max_pixels = p.value("max_image_pixels", kDefaultMaxPixels);
  o.link = link == "hardlink" ? LinkMode::Hardlink : link == "symlink" ? LinkMode::Symlink : LinkMode::Copy;
  if (o.default_split.empty() || o.default_split.find('/') != std::string::npos || o.default_split == "..")
    throw_bad_input("tfq_jsonl: split must be a plain directory name, got '" + o.default_split + "'");
  return o;
}

}  // namespace mstar::data
