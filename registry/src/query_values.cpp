// Values and field names of the query engine.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "mstar/error.h"
#include "mstar/params.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

std::string to_text(const Value& v, int significant) {
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* d = std::get_if<double>(&v)) {
    if (std::isnan(*d)) return "nan";
    if (significant > 0) return fmt::format("{:.{}g}", *d, significant);
    return fmt::format("{}", *d);
  }
  return "";
}

std::optional<double> to_number(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (s->empty()) return std::nullopt;
    const char* first = s->data();
    const char* last = first + s->size();
    if (*first == '+') ++first;  // from_chars refuses a leading '+'
    double out = 0;
    auto [end, ec] = std::from_chars(first, last, out);
    if (ec != std::errc() || end != last) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

int compare_for_sort(const Value& a, const Value& b) {
  auto rank = [](const Value& v) {
    if (std::holds_alternative<bool>(v)) return 0;
    if (std::holds_alternative<double>(v)) return 1;
    if (std::holds_alternative<std::string>(v)) return 2;
    return 3;
  };
  if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
  if (const auto* x = std::get_if<bool>(&a)) return static_cast<int>(*x) - static_cast<int>(std::get<bool>(b));
  if (const auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    if (std::isnan(*x) || std::isnan(y)) return std::isnan(*x) == std::isnan(y) ? 0 : (std::isnan(*x) ? 1 : -1);
    return *x < y ? -1 : (*x > y ? 1 : 0);
  }
  if (const auto* x = std::get_if<std::string>(&a)) {
    const int c = x->compare(std::get<std::string>(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return 0;
}

// ---------------------------------------------------------------- fields

namespace {

constexpr std::string_view kSelectorHelp = "@last, @first, @max, @min, @mean or @step=N";

std::string_view selector_name(SeriesSelect s) {
  switch (s) {
    case SeriesSelect::Last: return "last";
    case SeriesSelect::First: return "first";
    case SeriesSelect::Max: return "max";
    case SeriesSelect::Min: return "min";
    case SeriesSelect::Mean: return "mean";
    case SeriesSelect::Step: return "step";
  }
  return "last";
}

[[noreturn]] void bad_field(std::string_view text, const std::string& why) {
  throw_bad_input("'" + std::string(text) + "': " + why);
}

void parse_selector(std::string_view text, std::string_view sel, Field& f) {
  for (SeriesSelect s : {SeriesSelect::Last, SeriesSelect::First, SeriesSelect::Max, SeriesSelect::Min,
                         SeriesSelect::Mean}) {
    if (sel != selector_name(s)) continue;
    f.kind = FieldKind::Series;
    f.select = s;
    return;
  }
  if (sel.rfind("step=", 0) == 0) {
    std::string_view num = sel.substr(5);
    int64_t step = 0;
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), step);
    if (num.empty() || ec != std::errc() || end != num.data() + num.size())
      bad_field(text, "@step= needs an integer step, e.g. @step=100");
    f.kind = FieldKind::Series;
    f.select = SeriesSelect::Step;
    f.step = step;
    return;
  }
  bad_field(text, "unknown selector '@" + std::string(sel) + "'; use " + std::string(kSelectorHelp));
}

Field parse_metric(std::string_view text, std::string_view rest) {
  Field f;
  f.kind = FieldKind::Summary;
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    parse_selector(text, rest.substr(at + 1), f);
    rest = rest.substr(0, at);
  }
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size())
    bad_field(text, "a metric is metrics.NODE.KEY (the node's name in the experiment, then the metric key), "
                    "optionally with " + std::string(kSelectorHelp));
  f.node = rest.substr(0, dot);
  f.key = rest.substr(dot + 1);
  return f;
}

}  // namespace

std::string Field::name() const {
  switch (kind) {
    case FieldKind::Run: return key;
    case FieldKind::Param: return "params." + key;
    case FieldKind::Summary: return "metrics." + node + "." + key;
    case FieldKind::Series: {
      std::string out = "metrics." + node + "." + key + "@" + std::string(selector_name(select));
      if (select == SeriesSelect::Step) out += "=" + std::to_string(step);
      return out;
    }
  }
  return key;
}

std::string Field::label() const {
  const std::string full = name();
  if (kind == FieldKind::Param) return full.substr(7);
  if (kind == FieldKind::Summary || kind == FieldKind::Series) return full.substr(8);
  return full;
}

bool Field::is_time() const {
  return kind == FieldKind::Run && (key == "created" || key == "started" || key == "finished");
}

Field parse_field(std::string_view text, BareName bare) {
  if (text.empty()) throw_bad_input("empty field name");
  if (text.size() > kMaxExpressionBytes)
    throw_bad_input("field name of " + std::to_string(text.size()) + " bytes; at most " +
                    std::to_string(kMaxExpressionBytes) + " are accepted");
  if (text.rfind("params.", 0) == 0) {
    std::string_view key = text.substr(7);
    if (key.empty()) bad_field(text, "a param is params.KEY, e.g. params.train.lr");
    if (key.find('@') != std::string_view::npos)
      bad_field(text, "selectors (" + std::string(kSelectorHelp) + ") apply to metrics only");
    Field f;
    f.kind = FieldKind::Param;
    f.key = key;
    return f;
  }
  if (text.rfind("metrics.", 0) == 0) return parse_metric(text, text.substr(8));
  for (std::string_view run_field : kRunFields) {
    if (text != run_field) continue;
    Field f;
    f.kind = FieldKind::Run;
    f.key = text;
    return f;
  }
  if (bare == BareName::Metric) return parse_metric(text, text);
  if (bare == BareName::Param) {
    if (text.find('@') != std::string_view::npos)
      bad_field(text, "selectors (" + std::string(kSelectorHelp) + ") apply to metrics only: write metrics." +
                          std::string(text));
    Field f;
    f.kind = FieldKind::Param;
    f.key = text;
    return f;
  }
  std::vector<std::string> names(kRunFields.begin(), kRunFields.end());
  std::string hint = did_you_mean(text, names);
  std::string list;
  for (std::string_view n : kRunFields) list += (list.empty() ? "" : ", ") + std::string(n);
  bad_field(text, "unknown field" + (hint.empty() ? std::string() : " (did you mean '" + hint + "'?)") +
                      "; use params.KEY, metrics.NODE.KEY[@last|@max|...] or a run field (" + list + ")");
}

}  // namespace mstar::registry
