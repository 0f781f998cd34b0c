// `mstar data preview|stats`: people judge a dataset by looking at it.
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "cli/data_inspect.h"
#include "mstar/error.h"

namespace mstar::cli {

namespace {

void print_stats_table(const Json& stats) {
  std::vector<std::vector<std::string>> rows;
  // Named copies: a range-for over items() of a temporary (value()'s result)
  // iterates a destroyed object.
  const Json splits = stats.value("splits", Json::object());
  for (const auto& [split, s] : splits.items()) {
    const Json files = s.value("files", Json::object());
    for (const auto& [file, f] : files.items()) {
      const Json levels = f.value("levels", Json::object());
      if (levels.empty()) {
        rows.push_back({split, file, std::to_string(f.value("rows", 0)), std::to_string(f.value("images", 0)), "", "", ""});
        continue;
      }
      for (const auto& [level, l] : levels.items()) {
        char frac[16];
        std::snprintf(frac, sizeof frac, "%.3f", l.value("true_fraction", 0.0));
        rows.push_back({split, file, std::to_string(f.value("rows", 0)), std::to_string(f.value("images", 0)), level,
                        std::to_string(l.value("T", 0)) + "/" + std::to_string(l.value("F", 0)), frac});
      }
    }
  }
  print_table({"split", "file", "rows", "images", "level", "T/F", "true frac"}, rows, "table");
  // What the dataset's plugin recorded per split (the world's "scenes").
  for (const auto& [split, s] : splits.items())
    for (const auto& [key, value] : s.items())
      if (key != "files") std::cout << "\n" << split << " " << key << ": " << value.dump() << "\n";
}

}  // namespace

int cmd_data(const Args& args) {
  po::options_description desc("data options");
  std::string action, dir, out, format = "table";
  size_t max_images = 40;
  desc.add_options()("action", po::value(&action)->required(), "preview | stats")(
      "dir", po::value(&dir)->required(), "a dataset artifact, a split directory, or a folder of JSONL files")(
      "output,o", po::value(&out), "preview: the HTML file to write")(
      "max-images", po::value(&max_images)->default_value(40), "preview: at most this many images")(
      "format", po::value(&format)->default_value("table"), "stats: table or json");
  po::positional_options_description pos;
  pos.add("action", 1).add("dir", 1);
  po::variables_map vm;
  if (!parse(args, "mstar data preview DIR -o preview.html | mstar data stats DIR [--format table|json]",
             "Renders a self-contained page of image thumbnails with their statements, answers and levels, or "
             "counts rows per split, level and answer, symbols and relations.",
             "mstar data preview .mstar/store/ab/abcd.../bench -o bench.html", desc, &pos, vm))
    return 0;
  if (!std::filesystem::is_directory(dir)) throw_bad_input("data " + action + ": no directory " + dir);
  if (action == "preview") {
    if (out.empty()) throw_bad_input("data preview needs -o FILE.html");
    const std::string html = render_preview_html(dir, max_images);
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << html;
    if (!file.flush()) throw_io("cannot write " + out);
    std::cout << "wrote " << out << " (" << html.size() / 1024 << " KiB)\n";
    return 0;
  }
  if (action != "stats") throw_bad_input("data: unknown action '" + action + "' (expected preview or stats)");
  const Json stats = dataset_stats(dir);
  if (format == "json") {
    std::cout << stats.dump(2) << "\n";
    return 0;
  }
  print_stats_table(stats);
  return 0;
}

}  // namespace mstar::cli
