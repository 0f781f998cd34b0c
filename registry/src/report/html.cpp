// The HTML report: one self-contained page (inline CSS and SVG, no scripts,
// no external resources) with the sweep's aggregates, ablation pivots,
// scaling plots, learning curves, trials, failures and config.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "mstar/registry/registry.h"
#include "mstar/registry/report.h"
#include "mstar/version.h"

namespace mstar::registry {

namespace {

using plot::xml_escape;

constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif;
       color: #1f2328; background: #ffffff; }
header { border-bottom: 2px solid #4e79a7; margin-bottom: 16px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta { color: #57606a; margin: 0 0 12px; }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; min-width: 110px; background: #f6f8fa; }
.card b { display: block; font-size: 22px; }
.status-done { color: #1a7f37; } .status-failed { color: #cf222e; } .status-interrupted { color: #9a6700; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 9px; text-align: left; white-space: nowrap; }
th { background: #f0f3f6; font-weight: 600; }
tr:nth-child(even) td { background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 8px 16px 16px 0; vertical-align: top; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e1e4e8; border-radius: 4px; }
figcaption { color: #57606a; font-size: 12px; margin-top: 4px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: 12px; }
.empty { color: #57606a; font-style: italic; }
footer { margin-top: 40px; color: #8c959f; font-size: 12px; }
)css";

std::string esc(const std::string& s) { return xml_escape(s); }

std::string format_time(double t) {
  if (t <= 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&tt));
  return buf;
}

std::string html_table(const Table& t, const std::string& empty_note) {
  if (t.rows.empty()) return "<p class=\"empty\">" + esc(empty_note) + "</p>\n";
  std::string out = "<div class=\"scroll\"><table>\n<thead><tr>";
  for (const auto& c : t.columns) out += "<th>" + esc(c) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (const Value& v : row) {
      const bool num = std::holds_alternative<double>(v);
      std::string text = is_missing(v) ? "-" : to_text(v, 5);
      if (const auto* s = std::get_if<std::string>(&v); s && (*s == "done" || *s == "failed" || *s == "interrupted"))
        out += "<td class=\"status-" + *s + "\">" + esc(text) + "</td>";
      else out += std::string(num ? "<td class=\"num\">" : "<td>") + esc(text) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table></div>\n";
}

std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>\n" + svg + "<figcaption>" + esc(caption) + "</figcaption>\n</figure>\n";
}

// Numeric axes get lines, others bars; log x when positive and spanning
// two decades or more.
bool numeric_axis(Results& res, const Field& f, bool& log_x) {
  double lo = INFINITY, hi = -INFINITY;
  size_t distinct = 0;
  std::vector<double> seen;
  for (const Value& v : res.column(f)) {
    if (is_missing(v)) continue;
    auto x = to_number(v);
    if (!x || !std::holds_alternative<double>(v)) return false;
    lo = std::min(lo, *x);
    hi = std::max(hi, *x);
    if (std::find(seen.begin(), seen.end(), *x) == seen.end()) seen.push_back(*x), ++distinct;
  }
  log_x = lo > 0 && hi / lo >= 100;
  return distinct >= 2;
}

}  // namespace

std::string render_report(Registry& reg, const ReportOptions& opt) {
  Results res(reg, opt.targets, Filter::parse(opt.where));
  std::vector<SweepRecord> sweeps;
  for (const auto& id : res.sweep_ids())
    if (auto s = reg.get_sweep(id)) sweeps.push_back(*s);
  std::string title = opt.title;
  if (title.empty()) {
    for (const auto& s : sweeps) title += (title.empty() ? "" : ", ") + s.name;
    if (title.empty()) title = "mstar results";
  }
  const std::vector<Field> axes = res.varying_params(false);
  std::vector<std::string> axis_names, metric_names;
  for (const Field& f : axes) axis_names.push_back(f.name());
  std::vector<Field> metrics;
  if (opt.metrics.empty()) metrics = res.summary_fields();
  else
    for (const auto& m : opt.metrics) metrics.push_back(parse_field(m, BareName::Metric));
  for (const Field& m : metrics) metric_names.push_back(m.name());

  std::map<std::string, size_t> by_status;
  for (const auto& r : res.runs()) ++by_status[r.status];

  std::string body;
  // --- header
  body += "<header>\n<h1>" + esc(title) + "</h1>\n<p class=\"meta\">";
  for (const auto& s : sweeps)
    body += "sweep <code>" + esc(s.id) + "</code> · created " + esc(format_time(s.created)) + " · updated " +
            esc(format_time(s.updated)) + "<br>";
  if (!opt.where.empty()) body += "filter: <code>" + esc(opt.where) + "</code><br>";
  const double now = static_cast<double>(std::time(nullptr));
  body += "generated by mstar " MSTAR_VERSION_STRING " at " + esc(format_time(now)) + "</p>\n";
  body += "<nav><a href=\"#summary\">summary</a><a href=\"#pivots\">ablations</a><a href=\"#plots\">plots</a>"
          "<a href=\"#curves\">learning curves</a><a href=\"#trials\">trials</a><a href=\"#config\">config</a></nav>\n"
          "</header>\n";
  body += "<div class=\"cards\"><div class=\"card\"><b>" + std::to_string(res.runs().size()) + "</b>trials</div>";
  for (const auto& [status, n] : by_status)
    body += "<div class=\"card\"><b class=\"status-" + esc(status) + "\">" + std::to_string(n) + "</b>" + esc(status) +
            "</div>";
  body += "<div class=\"card\"><b>" + std::to_string(axes.size()) + "</b>swept params</div></div>\n";

  // --- aggregates over seeds
  body += "<section id=\"summary\"><h2>Summary: mean ± 95% CI over seeds</h2>\n";
  if (!axes.empty()) {
    std::string axes_text;
    for (const Field& f : axes) axes_text += (axes_text.empty() ? "" : ", ") + f.label();
    body += "<p class=\"meta\">grouped by " + esc(axes_text) + "; n = runs per group</p>\n";
  }
  TableSpec summary;
  summary.group_by = axis_names.empty() ? std::vector<std::string>{"sweep"} : axis_names;
  summary.metrics = metric_names;
  summary.aggs = {Agg::Mean, Agg::Ci95};
  summary.text_cells = true;
  body += metrics.empty() ? "<p class=\"empty\">no summary metrics were reported</p>\n"
                          : html_table(results_table(res, summary), "no runs");
  body += "</section>\n";

  // --- pivots (ablation tables)
  body += "<section id=\"pivots\"><h2>Ablation tables</h2>\n";
  if (axes.empty() || metrics.empty()) body += "<p class=\"empty\">nothing was swept besides the seed</p>\n";
  for (size_t a = 0; a < axes.size() && a < 4 && !metrics.empty(); ++a) {
    for (const Field& m : metrics) {
      TableSpec p = summary;
      p.pivot = axes[a].name();
      p.metrics = {m.name()};
      body += "<h3>" + esc(m.label()) + " by " + esc(axes[a].label()) + "</h3>\n";
      body += html_table(results_table(res, p), "no runs");
    }
  }
  body += "</section>\n";

  // --- scaling / ablation plots
  body += "<section id=\"plots\"><h2>Plots</h2>\n";
  size_t plots = 0;
  for (size_t a = 0; a < axes.size(); ++a) {
    std::vector<std::string> others;
    for (size_t b = 0; b < axes.size(); ++b)
      if (b != a) others.push_back(axes[b].name());
    bool log_x = false;
    const bool numeric = numeric_axis(res, axes[a], log_x);
    for (const Field& m : metrics) {
      if (plots >= opt.max_plots) break;
      ChartSpec c;
      c.x = axes[a].name();
      c.y = m.name();
      c.group = others;
      c.log_x = log_x;
      const std::string svg = numeric ? plot::render_svg(line_chart(res, c)) : plot::render_svg(bar_chart(res, c));
      body += figure(svg, m.label() + " against " + axes[a].label() + ", mean ± 95% CI over seeds");
      ++plots;
    }
  }
  if (plots == 0 && !metrics.empty()) {
    // Only seeds: one bar per metric summarises the spread.
    for (const Field& m : metrics) {
      if (plots >= opt.max_plots) break;
      ChartSpec c;
      c.x = "sweep";
      c.y = m.name();
      body += figure(plot::render_svg(bar_chart(res, c), {420, 360}), m.label() + ", mean ± 95% CI over seeds");
      ++plots;
    }
  }
  if (plots == 0) body += "<p class=\"empty\">no summary metrics to plot</p>\n";
  body += "</section>\n";

  // --- learning curves
  body += "<section id=\"curves\"><h2>Learning curves</h2>\n";
  size_t curves = 0;
  for (const auto& [node, key] : res.series_keys()) {
    if (curves >= opt.max_plots) break;
    CurveSpec c;
    c.keys = {node + "." + key};
    c.group = axis_names;
    body += figure(plot::render_svg(curve_chart(res, c)),
                   node + "." + key + (axes.empty() ? ", one line per run" : ", mean ± 95% CI over seeds"));
    ++curves;
  }
  if (curves == 0) body += "<p class=\"empty\">no metric series were logged</p>\n";
  body += "</section>\n";

  // --- trials
  body += "<section id=\"trials\"><h2>Trials</h2>\n";
  TableSpec trials;
  trials.metrics = metric_names;
  body += html_table(results_table(res, trials), "no runs");
  std::string failures;
  for (const auto& r : res.runs()) {
    if (r.status != "failed" && r.status != "interrupted") continue;
    failures += "<tr><td>" + esc(r.id) + "</td><td class=\"status-" + esc(r.status) + "\">" + esc(r.status) +
                "</td><td>" + esc(r.reason) + "</td></tr>\n";
    for (const auto& n : reg.node_runs(r.id))
      if (n.status == "failed" || n.status == "interrupted")
        failures += "<tr><td>" + esc(r.id) + " / " + esc(n.node) + "</td><td>" + esc(n.plugin) + "</td><td>" +
                    esc(n.reason) + "</td></tr>\n";
  }
  if (!failures.empty())
    body += "<h3>Failures</h3>\n<div class=\"scroll\"><table><thead><tr><th>run / node</th><th>status / "
            "plugin</th><th>reason</th></tr></thead><tbody>\n" + failures + "</tbody></table></div>\n";
  body += "</section>\n";

  // --- config
  body += "<section id=\"config\"><h2>Config</h2>\n";
  if (sweeps.empty()) body += "<p class=\"empty\">the selection is not a sweep</p>\n";
  for (const auto& s : sweeps) body += "<h3>" + esc(s.name) + "</h3>\n<pre>" + esc(s.config.dump(2)) + "</pre>\n";
  body += "</section>\n<footer>registry " + esc(reg.path().string()) + "</footer>\n";

  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         "<link rel=\"icon\" href=\"data:,\">\n<title>" +
         esc(title) + " · mstar report</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n" + body +
         "</body>\n</html>\n";
}

}  // namespace mstar::registry
