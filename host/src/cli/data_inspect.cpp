#include "cli/data_inspect.h"

#include <algorithm>
#include <map>
#include <set>

#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"

namespace mstar::cli {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> jsonl_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void bump(Json& obj, const std::string& key, int64_t by = 1) {
  if (!obj.is_object()) obj = Json::object();
  obj[key] = obj.value(key, static_cast<int64_t>(0)) + by;
}

// What the plugin that made the artifact recorded about split `name`
// (manifest "split_stats"): the manifest is in `dir` or, for a split
// directory, its parent.
Json recorded_split_stats(const fs::path& dataset_dir, const fs::path& split_dir, const std::string& name) {
  for (const fs::path& root : {split_dir, split_dir.parent_path(), dataset_dir}) {
    const fs::path manifest = root / kManifestFile;
    if (!fs::is_regular_file(manifest)) continue;
    Json m;
    try {
      m = Json::parse(read_file(manifest));
    } catch (const Json::exception& e) {
      throw_bad_input(manifest.string() + ": not valid JSON: " + e.what());
    }
    const Json stats = m.is_object() ? m.value("split_stats", Json::object()) : Json::object();
    return stats.is_object() && stats.contains(name) && stats[name].is_object() ? stats[name] : Json::object();
  }
  return Json::object();
}

std::string split_name(const fs::path& dir) {
  const fs::path clean = dir.lexically_normal();
  std::string name = clean.filename().string();
  if (name.empty()) name = clean.parent_path().filename().string();
  return name.empty() ? "." : name;
}

}  // namespace

std::vector<std::pair<std::string, fs::path>> find_splits(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw_bad_input(dir.string() + ": not a directory");
  std::vector<std::pair<std::string, fs::path>> out;
  if (!jsonl_files(dir).empty()) out.emplace_back(split_name(dir), dir);
  std::vector<fs::path> subdirs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) subdirs.push_back(e.path());
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& d : subdirs)
    if (!jsonl_files(d).empty()) out.emplace_back(d.filename().string(), d);
  return out;
}

Json dataset_stats(const fs::path& dataset_dir) {
  Json splits = Json::object();
  for (const auto& [name, dir] : find_splits(dataset_dir)) {
    Json split{{"files", Json::object()}};
    for (const fs::path& file : jsonl_files(dir)) {
      const std::string fname = file.filename().string();
      if (fname == "scenes.jsonl") continue;  // per-image facts, not task rows: see split_stats
      Json f{{"rows", 0}, {"heldout_rows", 0}};
      std::set<std::string> images;
      Json answers = Json::object(), levels = Json::object(), kinds = Json::object();
      data::for_each_jsonl(file, [&](size_t, const Json& row) {
        bump(f, "rows");
        if (row.contains("images") && row["images"].is_array())
          for (const Json& img : row["images"])
            if (img.is_string()) images.insert(img.get<std::string>().substr(0, 200));
        if (row.value("heldout", false) == true) bump(f, "heldout_rows");
        if (row.contains("kind") && row["kind"].is_string()) bump(kinds, row["kind"].get<std::string>());
        if (row.contains("type") && row["type"].is_string()) bump(kinds, row["type"].get<std::string>());
        // T/F rows only (an MCQ's answer letter "F" is not False).
        if (!row.contains("answer") || !row["answer"].is_string() || row.contains("options")) return;
        const std::string a = row["answer"].get<std::string>();
        if (a != "T" && a != "F") return;
        bump(answers, a);
        const std::string level = row.contains("level") && row["level"].is_string() ? row["level"].get<std::string>()
                                                                                     : std::string("(none)");
        bump(levels[level], a);
      });
      f["images"] = images.size();
      if (!answers.empty()) f["answers"] = answers;
      for (auto& [level, counts] : levels.items()) {
        const double t = counts.value("T", 0), n = t + counts.value("F", 0);
        counts["true_fraction"] = n > 0 ? t / n : 0.0;
      }
      if (!levels.empty()) f["levels"] = levels;
      if (!kinds.empty()) f["kinds"] = kinds;
      split["files"][fname] = f;
    }
    const Json recorded = recorded_split_stats(dataset_dir, dir, name);
    for (const auto& [key, value] : recorded.items()) split[key] = value;
    splits[name] = split;
  }
  return Json{{"dir", dataset_dir.string()}, {"splits", splits}};
}

std::string render_preview_html(const fs::path& dataset_dir, size_t max_images) {
  const auto splits = find_splits(dataset_dir);
  std::string body;
  size_t shown = 0;
  const size_t per_split = splits.empty() ? 0 : (max_images + splits.size() - 1) / splits.size();
  for (const auto& [name, dir] : splits) {
    if (shown >= max_images) break;
    // The T/F file to show: tfq.jsonl, else tfq_lite.jsonl, else any *.jsonl
    // whose first rows read as T/F rows.
    fs::path file;
    for (const char* pick : {"tfq.jsonl", "tfq_lite.jsonl"})
      if (fs::is_regular_file(dir / pick)) {
        file = dir / pick;
        break;
      }
    data::TaskFile tfq;
    data::ReadOptions opts;
    opts.skip_bad_rows = true;
    opts.decode_images = false;
    opts.allow_empty = true;  // any *.jsonl is tried; a non-T/F file reads as no rows
    if (!file.empty()) tfq = data::read_tfq_jsonl(file, opts);
    for (const fs::path& f : jsonl_files(dir)) {
      if (!file.empty()) break;
      data::TaskFile t = data::read_tfq_jsonl(f, opts);
      if (!t.rows.empty()) {
        file = f;
        tfq = std::move(t);
      }
    }
    if (file.empty()) continue;

    std::map<std::string, Json> scenes;
    if (fs::is_regular_file(dir / "scenes.jsonl"))
      data::for_each_jsonl(dir / "scenes.jsonl", [&](size_t, const Json& row) {
        if (row.contains("image_id") && row["image_id"].is_string()) scenes[row["image_id"].get<std::string>()] = row;
      });

    body += "<h2>" + html_escape(name) + " &middot; " + html_escape(file.filename().string()) + "</h2>\n";
    body += "<p class=meta>" + std::to_string(tfq.rows.size()) + " rows";
    if (!tfq.bad_rows.empty()) body += ", " + std::to_string(tfq.bad_rows.size()) + " bad rows skipped";
    body += "</p>\n";
    std::vector<std::string> order;
    std::map<std::string, std::vector<const data::TaskRow*>> by_image;
    for (const data::TaskRow& row : tfq.rows) {
      const std::string key = row.images.front().source;
      if (!by_image.count(key)) order.push_back(key);
      by_image[key].push_back(&row);
    }
    size_t in_split = 0;
    for (const std::string& key : order) {
      if (shown >= max_images || in_split >= per_split) break;
      ++shown, ++in_split;
      const auto& rows = by_image[key];
      const data::ImageRef& ref = rows.front()->images.front();
      std::string src;
      try {
        const std::string bytes = ref.encoded();
        const std::string ext = data::image_extension(bytes);
        src = data::make_data_uri(ext == ".jpg" ? "image/jpeg" : "image/png", bytes);
      } catch (const Error&) {
        src = "";
      }
      body += "<div class=card><div class=pic>";
      body += src.empty() ? "<div class=missing>missing image</div>" : "<img src=\"" + src + "\">";
      const std::string image_id = rows.front()->image_id;
      body += "<div class=id>" + html_escape(image_id.empty() ? key.substr(0, 60) : image_id) + "</div></div><div>";
      auto sc = scenes.find(image_id);
      if (sc != scenes.end()) {
        body += "<p class=truth>" + html_escape(sc->second.value("caption", "")) + " &rarr; <b>" +
                html_escape(sc->second.value("message", "")) + "</b>";
        if (sc->second.value("heldout", false)) body += " <span class=held>held out</span>";
        body += "</p>";
      }
      body += "<table>";
      for (const data::TaskRow* row : rows) {
        std::string text = row->problem;
        const std::string tag = "<image>";
        for (size_t at; (at = text.find(tag)) != std::string::npos;) text.erase(at, tag.size());
        body += "<tr><td class=\"ans " + row->answer + "\">" + row->answer + "</td><td class=lvl>" +
                html_escape(row->level) + "</td><td>" + html_escape(text) + "</td></tr>";
      }
      body += "</table></div></div>\n";
    }
  }
  if (shown == 0) body += "<p>No T/F rows found.</p>\n";
  return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mstar data preview: " +
         html_escape(dataset_dir.string()) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:1.5em;color:#222}"
         ".card{display:flex;gap:1em;border-bottom:1px solid #ddd;padding:.6em 0}"
         ".pic img{width:128px;height:128px;image-rendering:pixelated;border:1px solid #ccc}"
         ".pic .id{font-size:11px;color:#777}.missing{width:128px;height:128px;background:#fdd}"
         "table{border-collapse:collapse;font-size:14px}td{padding:1px 6px}"
         ".ans{font-weight:bold;text-align:center}.T{color:#070}.F{color:#b00}"
         ".lvl{color:#666;font-size:12px}.truth{margin:0 0 .3em;font-size:13px;color:#345}"
         ".held{background:#fe8;padding:0 4px}.meta{color:#777}\n"
         "</style></head><body>\n<h1>" +
         html_escape(dataset_dir.string()) + "</h1>\n" + body + "</body></html>\n";
}

}  // namespace mstar::cli
