// mstar::format: the subset of fmt's syntax that plugins use for log lines
// and messages, with no library behind it.
//
//   mstar::format("step {}: loss {:.4f} ({:+.1f}%)", step, loss, change)
//
// "{}" writes a value with operator<< (bools as true/false); "{:.Nf}",
// "{:+.Nf}" and "{:.Ne}" write a number fixed or scientific with N digits
// (+ forces the sign); "{{" and "}}" are braces. Extra arguments are shown
// after the text, missing ones leave their "{}" as written.
//
// Why not fmt: LibTorch ships its own fmt (a newer major version) inside its
// include directory, so in a LibTorch plugin <fmt/format.h> would be that
// one, compiled against the system's libfmt. This header means the same in
// every plugin and ties the plugin API to no formatting library.
#pragma once

#include <cstddef>
#include <iomanip>
#include <sstream>
#include <string>
#include <string_view>

namespace mstar {
namespace detail {

inline void append_literal(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() && text[i + 1] == text[i]) ++i;
  }
}

// The next placeholder's '{', skipping "{{"; npos when there is none.
inline std::size_t next_placeholder(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') continue;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      ++i;
      continue;
    }
    return i;
  }
  return std::string_view::npos;
}

template <class T>
void append_value(std::string& out, std::string_view spec, const T& value) {
  std::ostringstream s;
  s << std::boolalpha;
  if (!spec.empty() && spec.front() == ':') spec.remove_prefix(1);
  if (!spec.empty() && spec.front() == '+') {
    s << std::showpos;
    spec.remove_prefix(1);
  }
  if (spec.size() >= 2 && spec.front() == '.' && (spec.back() == 'f' || spec.back() == 'e')) {
    int digits = 0;
    for (char c : spec.substr(1, spec.size() - 2)) digits = digits * 10 + (c - '0');
    s << (spec.back() == 'f' ? std::fixed : std::scientific) << std::setprecision(digits);
  }
  s << value;
  out += s.str();
}

inline void format_into(std::string& out, std::string_view text) { append_literal(out, text); }

template <class T, class... Rest>
void format_into(std::string& out, std::string_view text, const T& first, const Rest&... rest) {
  const std::size_t open = next_placeholder(text);
  const std::size_t close = open == std::string_view::npos ? open : text.find('}', open);
  if (close == std::string_view::npos) {
    append_literal(out, text);
    out += " [";
    append_value(out, {}, first);
    ((out += ", ", append_value(out, {}, rest)), ...);
    out += "]";
    return;
  }
  append_literal(out, text.substr(0, open));
  append_value(out, text.substr(open + 1, close - open - 1), first);
  format_into(out, text.substr(close + 1), rest...);
}

}  // namespace detail

template <class... Args>
std::string format(std::string_view text, const Args&... args) {
  std::string out;
  out.reserve(text.size() + 16 * sizeof...(Args));
  detail::format_into(out, text, args...);
  return out;
}

// Items written with operator<<, separated by `separator`.
template <class Range>
std::string join(const Range& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += separator;
    first = false;
    detail::append_value(out, {}, item);
  }
  return out;
}

}  // namespace mstar
