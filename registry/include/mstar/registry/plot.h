// Charts as standalone SVG text, drawn by mstar itself (no plotting library,
// no scripts, no network): line charts with error bands (scaling plots,
// learning curves) and grouped bar charts (ablations). Each has a title, axis
// labels, ticks, grid lines and a legend, and reads fine in a browser, an
// image viewer or inlined into an HTML report.
#pragma once

#include <string>
#include <vector>

namespace mstar::registry::plot {

// One line (or one group of bars). lo/hi are empty or as long as y: the
// error band of a line, the error bar of a bar. NaN points are skipped.
struct Series {
  std::string label;
  std::vector<double> x, y, lo, hi;
};

struct LineChart {
  std::string title, x_label, y_label, legend_title;
  bool log_x = false;      // points with x <= 0 are dropped
  bool markers = true;     // a dot at every point (off for dense curves)
  std::vector<Series> series;
};

struct BarChart {
  std::string title, x_label, y_label, legend_title;
  std::vector<std::string> categories;  // x positions, left to right
  std::vector<Series> groups;           // y[i] belongs to categories[i]
};

struct Size {
  int width = 820, height = 480;
};

std::string render_svg(const LineChart& chart, Size size = {});
std::string render_svg(const BarChart& chart, Size size = {});

// "Nice" tick values (1, 2, 5 x 10^k steps) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// Powers of ten covering [lo, hi] (lo > 0), with 2 and 5 between when the
// range spans few decades.
std::vector<double> log_ticks(double lo, double hi);
// TensorBoard-style exponential smoothing: s = w * s + (1 - w) * y,
// debiased at the start; w in [0, 1), 0 leaves y unchanged. NaNs pass through.
std::vector<double> smooth(const std::vector<double>& y, double weight);
// Escapes &, <, >, " and ' for XML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace mstar::registry::plot
