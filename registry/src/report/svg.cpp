#include "report/svg.h"

#include <fmt/format.h>

#include "mstar/registry/plot.h"

namespace mstar::registry::plot {

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

Svg::Svg(int width, int height, std::string_view title) {
  out_ = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\">\n"
      "<title>{2}</title>\n",
      width, height, xml_escape(std::string(title)));
}

void Svg::rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra) {
  out_ += fmt::format("<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\"{}{}/>\n", x, y,
                      w, h, fill, extra.empty() ? "" : " ", extra);
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
               std::string_view extra) {
  out_ += fmt::format(
      "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>\n", x1,
      y1, x2, y2, stroke, width, extra.empty() ? "" : " ", extra);
}

namespace {
std::string points_attr(const std::vector<Point>& points) {
  std::string out;
  for (const auto& [x, y] : points) out += fmt::format("{}{:.2f},{:.2f}", out.empty() ? "" : " ", x, y);
  return out;
}
}  // namespace

void Svg::polyline(const std::vector<Point>& points, std::string_view stroke, double width) {
  out_ += fmt::format(
      "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>\n",
      points_attr(points), stroke, width);
}

void Svg::polygon(const std::vector<Point>& points, std::string_view fill, double opacity) {
  out_ += fmt::format("<polygon points=\"{}\" fill=\"{}\" fill-opacity=\"{}\" stroke=\"none\"/>\n",
                      points_attr(points), fill, opacity);
}

void Svg::circle(double x, double y, double r, std::string_view fill) {
  out_ += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\" fill=\"{}\"/>\n", x, y, r, fill);
}

void Svg::text(double x, double y, std::string_view text, std::string_view anchor, std::string_view extra) {
  out_ += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"{}\"{}{}>{}</text>\n", x, y, anchor,
                      extra.empty() ? "" : " ", extra, xml_escape(std::string(text)));
}

std::string Svg::finish() { return out_ + "</svg>\n"; }

std::string_view color(size_t index) {
  static constexpr std::string_view kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return kPalette[index % std::size(kPalette)];
}

double text_width(std::string_view text, double font_size) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  return static_cast<double>(chars) * font_size * 0.58;
}

}  // namespace mstar::registry::plot
