// Pictures of results: `mstar plot line|bar|curve` writes one SVG chart (and
// a PNG when a converter is installed); `mstar report` one self-contained
// HTML page of a sweep.
#include <boost/process.hpp>
#include <filesystem>
#include <iostream>

#include "cli/cli.h"
#include "cli/cmd_results.h"
#include "mstar/error.h"
#include "mstar/registry/report.h"

namespace mstar::cli {

namespace {

namespace bp = boost::process;
namespace fs = std::filesystem;

// Converts with rsvg-convert or ImageMagick. Returns the tool used, or ""
// when neither is installed; Error(Io) when the tool fails.
std::string svg_to_png(const fs::path& svg, const fs::path& png, int width) {
  struct Tool {
    const char* name;
    std::vector<std::string> args;
  };
  const Tool tools[] = {
      {"rsvg-convert", {"--width", std::to_string(width), "-o", png.string(), svg.string()}},
      {"convert", {"-background", "white", "-density", "144", svg.string(), png.string()}},
  };
  for (const Tool& tool : tools) {
    const auto exe = bp::search_path(tool.name);
    if (exe.empty()) continue;
    bp::ipstream err;
    bp::child c(exe, bp::args(tool.args), bp::std_out > bp::null, bp::std_err > err, bp::std_in < bp::null);
    std::string messages, line;
    while (std::getline(err, line)) messages += line + "\n";
    c.wait();
    if (c.exit_code() != 0 || !fs::exists(png))
      throw_io(std::string(tool.name) + " could not convert " + svg.string() + " to " + png.string() + ": " + messages);
    return tool.name;
  }
  return "";
}

}  // namespace

int cmd_plot(const Args& args) {
  po::options_description desc("plot options");
  StoreOptions so;
  std::string kind, x, y, where, band, title, output;
  std::vector<std::string> targets, group, keys;
  bool log_x = false, png = false;
  double smooth = 0;
  int width = 820, height = 480;
  so.add_to(desc, false, false);
  desc.add_options()("kind", po::value(&kind)->required(), "line, bar or curve")(
      "target", po::value(&targets)->composing(), "sweeps or runs; none: all runs")(
      "x", po::value(&x), "line/bar: the x axis field, e.g. data.images (a param) ")(
      "y", po::value(&y), "line/bar: the y field, e.g. eval.accuracy or train.reward_mean@max")(
      "group", po::value(&group)->composing(), "one line / bar colour per value of these fields")(
      "key,k", po::value(&keys)->composing(), "curve: series NODE.KEY to draw over steps (several allowed)")(
      "where,w", po::value(&where), "filter runs (see mstar results --help)")(
      "band", po::value(&band)->default_value("ci95"), "error band / bars: ci95, std or none")(
      "logx", po::bool_switch(&log_x), "logarithmic x axis (scaling plots)")(
      "smooth", po::value(&smooth)->default_value(0.0), "curve: exponential smoothing weight in [0, 1), e.g. 0.9")(
      "title", po::value(&title), "chart title (default from the fields)")(
      "width", po::value(&width)->default_value(820), "pixels")("height", po::value(&height)->default_value(480),
                                                                 "pixels")(
      "output,o", po::value(&output)->required(), "FILE.svg, or FILE.png (writes FILE.svg too; needs rsvg-convert or "
                                                  "ImageMagick)")(
      "png", po::bool_switch(&png), "also write a PNG beside the SVG when a converter is installed");
  po::positional_options_description pos;
  pos.add("kind", 1).add("target", -1);
  po::variables_map vm;
  if (!parse(args,
             "mstar plot line|bar|curve [SWEEP|RUN...] [--x FIELD --y FIELD] [--key NODE.KEY...] [--group FIELDS] "
             "[--where EXPR] [--band ci95|std|none] [--logx] [--smooth W] -o FILE.svg",
             "Draws a chart as SVG. line: y against a numeric x, one line per group, mean ± 95% CI over seeds as a "
             "band (scaling plots; --logx). bar: grouped bars with error bars for a categorical x (ablations). "
             "curve: learning curves of series over steps, one line per run or the mean per group.",
             "mstar plot line tfq-scaling --x data.images --y eval.accuracy --group train.algo --logx -o acc.svg\n"
             "  mstar plot curve tfq-scaling --key train.reward_mean --group train.algo --smooth 0.9 -o curve.svg\n"
             "  mstar plot bar ablation --x train.reward --y eval.accuracy --group base.size -o ablation.svg",
             desc, &pos, vm))
    return 0;
  if (kind != "line" && kind != "bar" && kind != "curve")
    throw_bad_input("plot: unknown kind '" + kind + "'; use line, bar or curve (see mstar plot --help)");
  if (width < 200 || height < 150 || width > 10000 || height > 10000)
    throw_bad_input("plot: --width/--height must be within 200x150 .. 10000x10000");
  if (smooth < 0 || smooth >= 1) throw_bad_input("--smooth: expected a weight in [0, 1), e.g. 0.9");
  fs::path out(output);
  const std::string ext = out.extension().string();
  if (ext != ".svg" && ext != ".png") throw_bad_input("-o: expected a .svg or .png file name, got '" + output + "'");
  const bool want_png = ext == ".png" || png;
  const fs::path svg_path = ext == ".png" ? fs::path(out).replace_extension(".svg") : out;

  const registry::Band b = registry::parse_band(band);
  auto reg = open_registry_ro(so);
  registry::Results res(*reg, targets, registry::Filter::parse(where, "--where"));
  if (res.runs().empty()) throw_bad_input("plot: no runs match (check the targets and --where)");
  const registry::plot::Size size{width, height};
  std::string svg;
  size_t drawn = 0;
  if (kind == "curve") {
    if (!x.empty() || !y.empty()) throw_bad_input("plot curve: draws --key series over steps; --x/--y are for line/bar");
    registry::CurveSpec spec;
    spec.keys = split_list(keys);
    spec.group = split_list(group);
    spec.smooth = smooth;
    spec.band = b;
    spec.log_x = log_x;
    spec.title = title;
    auto chart = registry::curve_chart(res, spec);
    drawn = chart.series.size();
    svg = registry::plot::render_svg(chart, size);
  } else {
    if (x.empty() || y.empty()) throw_bad_input("plot " + kind + ": give --x FIELD and --y FIELD");
    if (!keys.empty()) throw_bad_input("plot " + kind + ": --key is for plot curve");
    registry::ChartSpec spec;
    spec.x = x;
    spec.y = y;
    spec.group = split_list(group);
    spec.band = b;
    spec.log_x = log_x;
    spec.title = title;
    if (kind == "line") {
      auto chart = registry::line_chart(res, spec);
      drawn = chart.series.size();
      svg = registry::plot::render_svg(chart, size);
    } else {
      if (log_x) throw_bad_input("plot bar: --logx needs a numeric axis; use plot line");
      auto chart = registry::bar_chart(res, spec);
      drawn = chart.groups.size();
      svg = registry::plot::render_svg(chart, size);
    }
  }
  if (!svg_path.parent_path().empty()) fs::create_directories(svg_path.parent_path());
  write_output(svg_path.string(), svg);
  std::cout << "wrote " << svg_path.string() << " (" << drawn << (kind == "bar" ? " bar groups" : " lines") << ", "
            << res.runs().size() << " runs)\n";
  if (drawn == 0) std::cerr << "plot: nothing to draw: no run has both values (check the field names)\n";
  if (!want_png) return 0;
  const fs::path png_path = fs::path(svg_path).replace_extension(".png");
  const std::string tool = svg_to_png(svg_path, png_path, width);
  if (tool.empty()) {
    if (ext == ".png")
      throw_io("no SVG to PNG converter found (install librsvg2-bin for rsvg-convert, or ImageMagick); the SVG is "
               "at " + svg_path.string());
    std::cerr << "plot: no PNG written: neither rsvg-convert nor ImageMagick's convert is installed\n";
    return 0;
  }
  std::cout << "wrote " << png_path.string() << " (" << tool << ")\n";
  return 0;
}

int cmd_report(const Args& args) {
  po::options_description desc("report options");
  StoreOptions so;
  registry::ReportOptions opt;
  std::vector<std::string> metrics;
  std::string output;
  so.add_to(desc, false, false);
  desc.add_options()("target", po::value(&opt.targets)->composing(), "the sweep (name or id), or runs")(
      "where,w", po::value(&opt.where), "filter runs (see mstar results --help)")(
      "metric,m", po::value(&metrics)->composing(), "summary metrics to report (default: all)")(
      "title", po::value(&opt.title), "page title (default: the sweep's name)")(
      "max-plots", po::value(&opt.max_plots)->default_value(12), "at most this many plots (and curves)")(
      "output,o", po::value(&output)->default_value("report.html"), "the HTML file to write");
  po::positional_options_description pos;
  pos.add("target", -1);
  po::variables_map vm;
  if (!parse(args, "mstar report SWEEP [-o report.html] [--where EXPR] [--metric KEYS]",
             "Writes one self-contained HTML page (inline CSS and SVG, no scripts, no network) with the sweep's "
             "aggregates over seeds, ablation pivot tables, plots against each swept param, learning curves, the "
             "trials table with failures, and the sweep config.",
             "mstar report tfq-scaling -o tfq-scaling.html", desc, &pos, vm))
    return 0;
  if (opt.targets.empty()) throw_bad_input("report: name the sweep (see `mstar status` for sweeps)");
  opt.metrics = split_list(metrics);
  auto reg = open_registry_ro(so);
  const std::string html = registry::render_report(*reg, opt);
  const fs::path out(output);
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  write_output(output, html);
  std::cout << "wrote " << output << " (" << html.size() / 1024 << " KiB)\n";
  return 0;
}

int cmd_claims(const Args& args) {
  po::options_description desc("claims options");
  StoreOptions so;
  std::string file, format;
  so.add_to(desc, false, false);
  desc.add_options()("file", po::value(&file)->required(), "the claims file (docs/paper_claims.tsv)")(
      "format,f", po::value(&format)->default_value("table"), "table, markdown, csv or json");
  po::positional_options_description pos;
  pos.add("file", 1);
  po::variables_map vm;
  if (!parse(args, "mstar claims FILE [--format table|markdown|csv|json]",
             "Measures each claim of the claims file in the registry (a difference over seeds, paired run by run "
             "or between two groups of runs) and gives the verdict by one rule: agree = the paper's direction with "
             "a 95% CI excluding 0, disagree = the opposite direction with a CI excluding 0, otherwise within "
             "noise (or not measurable with one seed, not run without the sweep). See docs/results-cli.md.",
             "mstar claims docs/paper_claims.tsv --format markdown", desc, &pos, vm))
    return 0;
  const registry::Format fmt = registry::parse_format(
      format, {registry::Format::Table, registry::Format::Markdown, registry::Format::Csv, registry::Format::Json});
  const std::vector<registry::Claim> claims = registry::read_claims(file);
  auto reg = open_registry_ro(so);
  std::cout << registry::render(registry::claims_table(*reg, claims), fmt);
  return 0;
}

}  // namespace mstar::cli
