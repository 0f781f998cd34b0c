// Line and bar charts as SVG. Layout: title on top, y label rotated on the
// left, x label below, legend in a right-hand column sized to its labels.
#include "mstar/registry/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "report/svg.h"

namespace mstar::registry::plot {

namespace {

constexpr double kTop = 44, kBottom = 58, kLeft = 76;
constexpr std::string_view kGrid = "#e6e6e6", kAxis = "#444444", kInk = "#222222";

std::string tick_label(double v, double step) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-4) return fmt::format("{:.3g}", v);
  const int decimals = step > 0 ? std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 8) : 3;
  return fmt::format("{:.{}f}", v, decimals);
}

struct Axis {
  double lo = 0, hi = 1;  // domain, in transformed units (log10 for log axes)
  bool log = false;
  std::vector<double> ticks;  // in data units
  double step = 0;            // linear tick step

  double t(double v) const { return log ? std::log10(v) : v; }
  double frac(double v) const { return (t(v) - lo) / (hi - lo); }
};

Axis linear_axis(double lo, double hi, bool include_zero) {
  if (include_zero) {
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis a;
  a.ticks = nice_ticks(lo, hi);
  a.step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1;
  a.lo = std::min(lo, a.ticks.front());
  a.hi = std::max(hi, a.ticks.back());
  return a;
}

Axis log_axis(double lo, double hi) {
  Axis a;
  a.log = true;
  if (!(hi > lo)) {
    lo /= 2;
    hi *= 2;
  }
  a.lo = std::floor(std::log10(lo));
  a.hi = std::ceil(std::log10(hi));
  if (a.hi <= a.lo) a.hi = a.lo + 1;
  a.ticks = log_ticks(std::pow(10.0, a.lo), std::pow(10.0, a.hi));
  return a;
}

struct Frame {
  double left, top, width, height;
  double x(const Axis& a, double v) const { return left + a.frac(v) * width; }
  double y(const Axis& a, double v) const { return top + height - a.frac(v) * height; }
};

// Legend column width for these labels (0 when there is nothing to show).
double legend_width(const std::vector<Series>& series, const std::string& title) {
  double w = text_width(title) + 8;
  bool any = !title.empty();
  for (const auto& s : series) {
    any = any || !s.label.empty();
    w = std::max(w, text_width(s.label) + 34);
  }
  return any ? std::min(w, 340.0) + 16 : 0;
}

// Cuts the middle, not the end: labels like "sweep seed=1 node.key/symbolic"
// differ at both ends, and a legend of identical prefixes tells nothing.
std::string clip(const std::string& s, double max_width, double font_size = 12) {
  auto text_width = [font_size](const std::string& t) { return plot::text_width(t, font_size); };
  if (text_width(s) <= max_width) return s;
  std::string head, tail;
  size_t front = 0, back = s.size();
  while (front < back) {
    const bool take_tail = tail.size() < head.size();
    const std::string h = take_tail ? head : head + s[front];
    const std::string t = take_tail ? std::string(1, s[back - 1]) + tail : tail;
    if (text_width(h + "..." + t) > max_width) break;
    if (take_tail) tail = t, --back;
    else head = h, ++front;
  }
  return head + "..." + tail;
}

void draw_frame(Svg& svg, const Frame& f, const Axis& xa, const Axis& ya, bool x_ticks, const std::string& title,
                const std::string& x_label, const std::string& y_label, double total_width, double total_height) {
  svg.rect(0, 0, total_width, total_height, "#ffffff");
  svg.text(total_width / 2, 26, clip(title, total_width - 20, 16), "middle",
           "font-size=\"16\" font-weight=\"bold\" fill=\"#222222\"");
  for (double v : ya.ticks) {
    const double y = f.y(ya, v);
    svg.line(f.left, y, f.left + f.width, y, kGrid);
    svg.line(f.left - 5, y, f.left, y, kAxis);
    svg.text(f.left - 8, y + 4, ya.log ? fmt::format("{:g}", v) : tick_label(v, ya.step), "end",
             "fill=\"#222222\"");
  }
  if (x_ticks) {
    for (double v : xa.ticks) {
      const double x = f.x(xa, v);
      svg.line(x, f.top, x, f.top + f.height, kGrid);
      svg.line(x, f.top + f.height, x, f.top + f.height + 5, kAxis);
      svg.text(x, f.top + f.height + 19, xa.log ? fmt::format("{:g}", v) : tick_label(v, xa.step), "middle",
               "fill=\"#222222\"");
    }
  }
  svg.line(f.left, f.top, f.left, f.top + f.height, kAxis, 1.2);
  svg.line(f.left, f.top + f.height, f.left + f.width, f.top + f.height, kAxis, 1.2);
  svg.text(f.left + f.width / 2, total_height - 14, x_label, "middle", "font-size=\"13\" fill=\"#222222\"");
  const double cy = f.top + f.height / 2;
  svg.text(18, cy, clip(y_label, f.height), "middle",
           fmt::format("font-size=\"13\" fill=\"#222222\" transform=\"rotate(-90 18 {:.2f})\"", cy));
}

void draw_legend(Svg& svg, const Frame& f, const std::vector<Series>& series, const std::string& title, bool bars) {
  double x = f.left + f.width + 18, y = f.top + 6;
  const double max_w = 260;
  if (!title.empty()) {
    svg.text(x, y + 4, clip(title, max_w), "start", "font-weight=\"bold\" fill=\"#222222\"");
    y += 20;
  }
  for (size_t i = 0; i < series.size(); ++i) {
    if (bars) svg.rect(x, y - 5, 18, 10, color(i));
    else svg.line(x, y, x + 22, y, color(i), 2.5);
    svg.text(x + 28, y + 4, clip(series[i].label.empty() ? "(all)" : series[i].label, max_w - 30), "start",
             "fill=\"#222222\"");
    y += 18;
  }
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!finite(lo) || !finite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double rough = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(rough)));
  const double r = rough / mag;
  const double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  const double start = std::floor(lo / step + 1e-9), end = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = start; k <= end; ++k) {
    const double v = k * step;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi > 0)) return ticks;
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  const bool fine = e1 - e0 <= 2;
  for (int e = e0; e <= e1; ++e) {
    const double p = std::pow(10.0, e);
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !fine) continue;
      const double v = m * p;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push_back(v);
    }
  }
  return ticks;
}

std::vector<double> smooth(const std::vector<double>& y, double weight) {
  if (weight <= 0) return y;
  weight = std::min(weight, 0.999);
  std::vector<double> out;
  out.reserve(y.size());
  double last = 0, scale = 1;
  for (double v : y) {
    if (!finite(v)) {
      out.push_back(v);
      continue;
    }
    last = last * weight + (1 - weight) * v;
    scale *= weight;
    out.push_back(last / (1 - scale));
  }
  return out;
}

std::string render_svg(const LineChart& chart, Size size) {
  const double W = size.width, H = size.height;
  Svg svg(size.width, size.height, chart.title);
  // Data range.
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  auto usable_x = [&](double x) { return finite(x) && (!chart.log_x || x > 0); };
  for (const auto& s : chart.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable_x(s.x[i]) || !finite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]);
      ymax = std::max(ymax, s.y[i]);
      for (const auto* band : {&s.lo, &s.hi}) {
        if (i >= band->size() || !finite((*band)[i])) continue;
        ymin = std::min(ymin, (*band)[i]);
        ymax = std::max(ymax, (*band)[i]);
      }
    }
  }
  const double legend = legend_width(chart.series, chart.legend_title);
  Frame f{kLeft, kTop, std::max(W - kLeft - legend - 24, 80.0), std::max(H - kTop - kBottom, 60.0)};
  if (!(xmax >= xmin)) {
    Axis empty;
    empty.ticks = {};
    draw_frame(svg, f, empty, empty, false, chart.title, chart.x_label, chart.y_label, W, H);
    svg.text(f.left + f.width / 2, f.top + f.height / 2, "no data", "middle", "fill=\"#888888\"");
    return svg.finish();
  }
  const Axis xa = chart.log_x ? log_axis(xmin, xmax) : linear_axis(xmin, xmax, false);
  const double ypad = ymax > ymin ? 0.02 * (ymax - ymin) : 0;
  // Padding never crosses zero: non-negative data keeps a zero baseline.
  const double ylo = ymin >= 0 ? std::max(0.0, ymin - ypad) : ymin - ypad;
  const double yhi = ymax <= 0 ? std::min(0.0, ymax + ypad) : ymax + ypad;
  const Axis ya = linear_axis(ylo, yhi, false);
  draw_frame(svg, f, xa, ya, true, chart.title, chart.x_label, chart.y_label, W, H);

  const size_t max_points = static_cast<size_t>(f.width) * 2;
  for (size_t si = 0; si < chart.series.size(); ++si) {
    const Series& s = chart.series[si];
    std::vector<size_t> order;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (usable_x(s.x[i])) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
    const size_t stride = std::max<size_t>(1, (order.size() + max_points - 1) / std::max<size_t>(max_points, 1));
    if (stride > 1) {  // dense curves: every stride-th point, and the last
      std::vector<size_t> thin;
      for (size_t k = 0; k < order.size(); k += stride) thin.push_back(order[k]);
      if (thin.back() != order.back()) thin.push_back(order.back());
      order = std::move(thin);
    }
    // Band first, under the line; both break at NaN.
    std::vector<Point> upper, lower;
    auto flush_band = [&] {
      if (upper.size() >= 2) {
        std::vector<Point> poly = upper;
        poly.insert(poly.end(), lower.rbegin(), lower.rend());
        svg.polygon(poly, color(si), 0.18);
      }
      upper.clear();
      lower.clear();
    };
    for (size_t i : order) {
      const bool ok = i < s.lo.size() && i < s.hi.size() && finite(s.lo[i]) && finite(s.hi[i]);
      if (!ok) {
        flush_band();
        continue;
      }
      const double x = f.x(xa, s.x[i]);
      upper.emplace_back(x, f.y(ya, s.hi[i]));
      lower.emplace_back(x, f.y(ya, s.lo[i]));
    }
    flush_band();
    std::vector<Point> run;
    auto flush_line = [&] {
      if (run.size() >= 2) svg.polyline(run, color(si), 2);
      run.clear();
    };
    for (size_t i : order) {
      if (!finite(s.y[i])) {
        flush_line();
        continue;
      }
      run.emplace_back(f.x(xa, s.x[i]), f.y(ya, s.y[i]));
      if (chart.markers || order.size() == 1) svg.circle(run.back().first, run.back().second, 3.2, color(si));
    }
    flush_line();
  }
  if (legend > 0) draw_legend(svg, f, chart.series, chart.legend_title, false);
  return svg.finish();
}

std::string render_svg(const BarChart& chart, Size size) {
  const double W = size.width, H = size.height;
  Svg svg(size.width, size.height, chart.title);
  double ymin = 0, ymax = 0;
  bool any = false;
  for (const auto& g : chart.groups) {
    for (size_t i = 0; i < g.y.size(); ++i) {
      if (!finite(g.y[i])) continue;
      any = true;
      ymin = std::min(ymin, g.y[i]);
      ymax = std::max(ymax, g.y[i]);
      if (i < g.lo.size() && finite(g.lo[i])) ymin = std::min(ymin, g.lo[i]);
      if (i < g.hi.size() && finite(g.hi[i])) ymax = std::max(ymax, g.hi[i]);
    }
  }
  const double legend = legend_width(chart.groups, chart.legend_title);
  Frame f{kLeft, kTop, std::max(W - kLeft - legend - 24, 80.0), std::max(H - kTop - kBottom, 60.0)};
  const Axis ya = linear_axis(ymin, ymax * (ymax > 0 ? 1.02 : 1), true);
  Axis none;
  draw_frame(svg, f, none, ya, false, chart.title, chart.x_label, chart.y_label, W, H);
  if (!any || chart.categories.empty()) {
    svg.text(f.left + f.width / 2, f.top + f.height / 2, "no data", "middle", "fill=\"#888888\"");
    return svg.finish();
  }
  const double slot = f.width / static_cast<double>(chart.categories.size());
  const double groups = static_cast<double>(std::max<size_t>(chart.groups.size(), 1));
  const double bar = slot * 0.8 / groups;
  const double y0 = f.y(ya, 0);
  for (size_t c = 0; c < chart.categories.size(); ++c) {
    const double left = f.left + slot * static_cast<double>(c) + slot * 0.1;
    svg.text(f.left + slot * (static_cast<double>(c) + 0.5), f.top + f.height + 19,
             clip(chart.categories[c], slot - 4), "middle", "fill=\"#222222\"");
    for (size_t g = 0; g < chart.groups.size(); ++g) {
      const Series& s = chart.groups[g];
      if (c >= s.y.size() || !finite(s.y[c])) continue;
      const double x = left + bar * static_cast<double>(g);
      const double y = f.y(ya, s.y[c]);
      svg.rect(x + 1, std::min(y, y0), std::max(bar - 2, 1.0), std::fabs(y0 - y), color(g));
      if (c < s.lo.size() && c < s.hi.size() && finite(s.lo[c]) && finite(s.hi[c])) {
        const double cx = x + bar / 2, ylo = f.y(ya, s.lo[c]), yhi = f.y(ya, s.hi[c]);
        const double cap = std::min(bar * 0.25, 6.0);
        svg.line(cx, ylo, cx, yhi, std::string(kInk), 1.3);
        svg.line(cx - cap, ylo, cx + cap, ylo, std::string(kInk), 1.3);
        svg.line(cx - cap, yhi, cx + cap, yhi, std::string(kInk), 1.3);
      }
    }
  }
  if (legend > 0) draw_legend(svg, f, chart.groups, chart.legend_title, true);
  return svg.finish();
}

}  // namespace mstar::registry::plot
