// Charts from results: scaling lines, ablation bars and learning curves.
#include <algorithm>
#include <cmath>
#include <map>

#include "mstar/error.h"
#include "mstar/registry/report.h"

namespace mstar::registry {

namespace {

struct Group {
  std::vector<Value> key;
  std::vector<size_t> rows;
};

std::vector<Field> fields_of(const std::vector<std::string>& names, BareName bare) {
  std::vector<Field> out;
  for (const auto& n : names) out.push_back(parse_field(n, bare));
  return out;
}

// Groups in axis order, so that legends read S, M, L as the sweep lists them.
std::vector<Group> group_rows(Results& res, const std::vector<Field>& fields) {
  std::vector<const std::vector<Value>*> cols;
  for (const Field& f : fields) cols.push_back(&res.column(f));
  std::vector<std::vector<Value>> keys(res.runs().size());
  for (size_t r = 0; r < keys.size(); ++r)
    for (const auto* c : cols) keys[r].push_back((*c)[r]);
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return res.less_on_axes(fields, keys[a], keys[b]); });
  std::vector<Group> out;
  for (size_t r : order) {
    if (out.empty() || res.less_on_axes(fields, out.back().key, keys[r])) out.push_back({keys[r], {}});
    out.back().rows.push_back(r);
  }
  return out;
}

std::string group_label(const std::vector<Field>& fields, const std::vector<Value>& key) {
  if (fields.size() == 1) return is_missing(key[0]) ? "-" : to_text(key[0], 6);
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i)
    out += (i ? ", " : "") + fields[i].label() + "=" + (is_missing(key[i]) ? "-" : to_text(key[i], 6));
  return out;
}

std::string joined_labels(const std::vector<Field>& fields) {
  std::string out;
  for (const Field& f : fields) out += (out.empty() ? "" : ", ") + f.label();
  return out;
}

std::string band_suffix(Band band) {
  switch (band) {
    case Band::Ci95: return " (mean ± 95% CI)";
    case Band::Std: return " (mean ± std)";
    case Band::None: return " (mean)";
  }
  return "";
}

// Mean and band of the y values of `rows`.
void add_point(plot::Series& s, double x, const std::vector<Value>& y, const std::vector<size_t>& rows, Band band) {
  std::vector<Value> ys;
  for (size_t r : rows) ys.push_back(y[r]);
  const Stats st = describe(ys);
  if (st.count == 0) return;
  s.x.push_back(x);
  s.y.push_back(st.mean);
  const double half = band == Band::Ci95 ? st.ci95 : band == Band::Std ? st.std : std::nan("");
  s.lo.push_back(st.mean - half);
  s.hi.push_back(st.mean + half);
}

}  // namespace

Band parse_band(const std::string& name) {
  if (name == "ci95" || name == "ci") return Band::Ci95;
  if (name == "std") return Band::Std;
  if (name == "none") return Band::None;
  throw_bad_input("--band: unknown band '" + name + "'; use ci95, std or none");
}

plot::LineChart line_chart(Results& res, const ChartSpec& spec) {
  const Field xf = parse_field(spec.x, BareName::Param), yf = parse_field(spec.y, BareName::Metric);
  const std::vector<Field> gf = fields_of(spec.group, BareName::Param);
  const std::vector<Value>& xs = res.column(xf);
  const std::vector<Value>& ys = res.column(yf);
  plot::LineChart chart;
  chart.title = spec.title.empty() ? yf.label() + " vs " + xf.label() : spec.title;
  chart.x_label = xf.label() + (spec.log_x ? " (log scale)" : "");
  chart.y_label = yf.label() + band_suffix(spec.band);
  chart.legend_title = joined_labels(gf);
  chart.log_x = spec.log_x;
  for (const Group& g : group_rows(res, gf)) {
    std::map<double, std::vector<size_t>> by_x;
    for (size_t r : g.rows) {
      if (is_missing(xs[r])) continue;
      auto x = to_number(xs[r]);
      if (!x)
        throw_bad_input("plot: x (" + xf.name() + ") has the non-numeric value '" + to_text(xs[r]) +
                        "'; a line needs numbers (use `mstar plot bar` for categories)");
      by_x[*x].push_back(r);
    }
    plot::Series s;
    s.label = gf.empty() ? yf.label() : group_label(gf, g.key);
    for (const auto& [x, rows] : by_x) add_point(s, x, ys, rows, spec.band);
    if (!s.x.empty()) chart.series.push_back(std::move(s));
  }
  return chart;
}

plot::BarChart bar_chart(Results& res, const ChartSpec& spec) {
  const Field xf = parse_field(spec.x, BareName::Param), yf = parse_field(spec.y, BareName::Metric);
  const std::vector<Field> gf = fields_of(spec.group, BareName::Param);
  const std::vector<Value>& xs = res.column(xf);
  const std::vector<Value>& ys = res.column(yf);
  plot::BarChart chart;
  chart.title = spec.title.empty() ? yf.label() + " by " + xf.label() : spec.title;
  chart.x_label = xf.label();
  chart.y_label = yf.label() + band_suffix(spec.band);
  chart.legend_title = joined_labels(gf);
  const std::vector<Value> cats = res.axis_values(xf);
  for (const Value& c : cats) chart.categories.push_back(to_text(c, 6));
  for (const Group& g : group_rows(res, gf)) {
    plot::Series s;
    s.label = gf.empty() ? yf.label() : group_label(gf, g.key);
    bool any = false;
    for (size_t ci = 0; ci < cats.size(); ++ci) {
      std::vector<size_t> rows;
      for (size_t r : g.rows)
        if (compare_for_sort(xs[r], cats[ci]) == 0) rows.push_back(r);
      plot::Series point;
      add_point(point, 0, ys, rows, spec.band);
      s.x.push_back(static_cast<double>(ci));
      s.y.push_back(point.y.empty() ? std::nan("") : point.y[0]);
      s.lo.push_back(point.lo.empty() ? std::nan("") : point.lo[0]);
      s.hi.push_back(point.hi.empty() ? std::nan("") : point.hi[0]);
      any = any || !point.y.empty();
    }
    if (any) chart.groups.push_back(std::move(s));
  }
  return chart;
}

namespace {

// What a set of labels has in common up to the last separator, so that a
// legend shows what differs ("seed=1 symbolic", not the sweep name and the
// shared path of every key, clipped).
size_t shared_prefix(const std::vector<std::string>& labels, const char* separators) {
  if (labels.size() < 2) return 0;
  size_t n = labels[0].size();
  for (const auto& l : labels) {
    size_t i = 0;
    while (i < n && i < l.size() && l[i] == labels[0][i]) ++i;
    n = i;
  }
  const size_t cut = labels[0].find_last_of(separators, n == 0 ? 0 : n - 1);
  return cut == std::string::npos || n == 0 ? 0 : cut + 1;
}

std::vector<std::string> without_shared_prefix(std::vector<std::string> labels, const char* separators) {
  const size_t cut = shared_prefix(labels, separators);
  for (auto& l : labels) l = l.substr(cut);
  return labels;
}

}  // namespace

plot::LineChart curve_chart(Results& res, const CurveSpec& spec) {
  if (spec.keys.empty()) throw_bad_input("plot curve: give the series with --key NODE.KEY (e.g. train.loss)");
  const std::vector<Field> gf = fields_of(spec.group, BareName::Param);
  plot::LineChart chart;
  chart.markers = false;
  chart.log_x = spec.log_x;
  chart.x_label = spec.log_x ? "step (log scale)" : "step";
  chart.legend_title = gf.empty() ? "run" : joined_labels(gf);
  std::string key_names;
  std::vector<std::string> key_labels, run_labels;
  for (const std::string& k : spec.keys) key_labels.push_back(parse_field(k, BareName::Metric).label());
  key_labels = without_shared_prefix(key_labels, "./");
  for (const auto& run : res.runs()) run_labels.push_back(run.name.empty() ? run.id : run.name);
  run_labels = without_shared_prefix(run_labels, " ");
  for (size_t ki = 0; ki < spec.keys.size(); ++ki) {
    const std::string& k = spec.keys[ki];
    const Field f = parse_field(k, BareName::Metric);
    if (f.kind != FieldKind::Summary)
      throw_bad_input("plot curve: --key '" + k + "' takes a series NODE.KEY without a @selector");
    key_names += (key_names.empty() ? "" : ", ") + f.label();
    const std::string suffix = spec.keys.size() > 1 ? " " + key_labels[ki] : "";
    const auto& curves = res.curves(f.node, f.key);
    std::vector<std::vector<double>> smoothed(curves.size());
    for (size_t r = 0; r < curves.size(); ++r) smoothed[r] = plot::smooth(curves[r].values, spec.smooth);
    if (gf.empty()) {
      for (size_t r = 0; r < curves.size(); ++r) {
        if (curves[r].steps.empty()) continue;
        plot::Series s;
        s.label = run_labels[r] + suffix;
        for (size_t i = 0; i < curves[r].steps.size(); ++i) s.x.push_back(static_cast<double>(curves[r].steps[i]));
        s.y = smoothed[r];
        chart.series.push_back(std::move(s));
      }
      continue;
    }
    for (const Group& g : group_rows(res, gf)) {
      std::map<int64_t, std::vector<Value>> at_step;
      for (size_t r : g.rows)
        for (size_t i = 0; i < curves[r].steps.size(); ++i) at_step[curves[r].steps[i]].push_back(smoothed[r][i]);
      if (at_step.empty()) continue;
      plot::Series s;
      s.label = group_label(gf, g.key) + suffix;
      std::vector<size_t> all;
      for (const auto& [step, values] : at_step) {
        all.resize(values.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = i;
        add_point(s, static_cast<double>(step), values, all, spec.band);
      }
      chart.series.push_back(std::move(s));
    }
  }
  chart.y_label = key_names + (gf.empty() ? "" : band_suffix(spec.band));
  if (spec.smooth > 0) chart.y_label += " (smoothed " + to_text(Value(spec.smooth)) + ")";
  chart.title = spec.title.empty() ? "learning curve: " + key_names : spec.title;
  return chart;
}

}  // namespace mstar::registry
