// Private: a minimal SVG writer. Coordinates are pixels, text is escaped,
// numbers are written with two decimals; the result is one standalone
// <svg> element that also works inlined into HTML.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mstar::registry::plot {

using Point = std::pair<double, double>;

class Svg {
 public:
  Svg(int width, int height, std::string_view title);

  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra = "");
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
            std::string_view extra = "");
  void polyline(const std::vector<Point>& points, std::string_view stroke, double width);
  void polygon(const std::vector<Point>& points, std::string_view fill, double opacity);
  void circle(double x, double y, double r, std::string_view fill);
  // anchor: start, middle or end. `extra`: more attributes, e.g. a transform.
  void text(double x, double y, std::string_view text, std::string_view anchor = "start",
            std::string_view extra = "");
  std::string finish();

 private:
  std::string out_;
};

// Tableau 10: distinguishable, also for common colour blindness.
std::string_view color(size_t index);
// Rough width of text at 12px sans-serif, for layout.
double text_width(std::string_view text, double font_size = 12);

}  // namespace mstar::registry::plot
