// mathruler 0.1.0's grade_answer, step by step in the order of grader.py and
// math_normalize.py; grade.h says what is left out and why.
#include "mstar/data/grade.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

#include "mstar/data/regex.h"

namespace mstar::data {

namespace {

// Python's str.replace.
std::string replaced(std::string s, std::string_view from, std::string_view to) {
  std::string out;
  size_t at = 0;
  for (size_t hit = s.find(from); hit != std::string::npos; hit = s.find(from, at)) {
    out.append(s, at, hit - at);
    out.append(to);
    at = hit + from.size();
  }
  out.append(s, at);
  return out;
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

// re.search(r"^\\text\{(?P<text>.+?)\}$", s): the content of a \text{...}
// that spans the whole string (Python's $ also matches before a final "\n";
// "." does not cross a newline).
std::optional<std::string> enclosing_text(std::string_view s) {
  constexpr std::string_view kOpen = "\\text{";
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (s.size() < kOpen.size() + 2 || !s.starts_with(kOpen) || s.back() != '}') return std::nullopt;
  const std::string_view inner = s.substr(kOpen.size(), s.size() - kOpen.size() - 1);
  if (inner.find('\n') != std::string_view::npos) return std::nullopt;
  return std::string(inner);
}

// Python's float(s) for decimal literals (the grader's _is_float): surrounding
// whitespace, a sign, digits with an optional point and exponent, inf, nan.
std::optional<double> python_float(const std::string& s) {
  const std::string t = strip(s);
  if (t.empty() || t.find_first_of("xXpP") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nullopt;
  return v;
}

bool near_int(double x) { return std::isfinite(x) && std::abs(x - std::nearbyint(x)) <= 1e-7; }

// str(int(x)) of a double: the integer part, exactly.
std::string int_string(double x) {
  x = std::trunc(x);
  if (x == 0) x = 0;  // no "-0"
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.0f", x);
  return buf;
}

// _strip_properly_formatted_commas: "1,234,567" -> "1234567", until stable.
std::string strip_thousands_commas(std::string s) {
  for (;;) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
      const bool hit = i + 4 < s.size() && is_digit(s[i]) && s[i + 1] == ',' && is_digit(s[i + 2]) &&
                       is_digit(s[i + 3]) && is_digit(s[i + 4]) && (i + 5 == s.size() || !is_digit(s[i + 5]));
      if (!hit) {
        out += s[i++];
        continue;
      }
      out += s[i];
      out.append(s, i + 2, 3);
      if (i + 5 < s.size()) out += s[i + 5];
      i += 6;
    }
    if (out == s) return out;
    s = std::move(out);
  }
}

// _str_is_int / _str_to_int.
std::optional<std::string> integer_text(const std::string& s) {
  const auto v = python_float(strip_thousands_commas(s));
  if (!v || !near_int(*v)) return std::nullopt;
  const auto w = python_float(replaced(s, ",", ""));
  if (!w) return std::nullopt;  // the reference raises here; _normalize never gets such a string
  return int_string(*w);
}

// What pylatexenc makes of an answer's LaTeX (grade.h): group braces go;
// the formatting commands of kKeepArgument vanish and leave their argument;
// those of kDropArgument take their argument with them; math alphabets and
// accents turn a non-empty argument into other Unicode letters, which no
// truth holds; spacing commands become spaces; any other command too becomes
// a character no truth holds. Checked against pylatexenc 2.11's latex2text.
std::string latex_to_text(std::string_view s) {
  static const std::set<std::string_view> kKeepArgument = {
      "text",  "textbf",   "textit",   "textrm", "textsc",       "textnormal", "textsl", "emph",
      "underline", "overline", "widehat", "boxed", "fbox", "hbox", "mathrm", "operatorname",
      "boldsymbol", "displaystyle", "textstyle", "bf", "it", "rm", "left", "right", "ensuremath", "checkmark"};
  static const std::set<std::string_view> kDropArgument = {"texttt", "textsf", "textup", "textmd", "mbox"};
  static const std::set<std::string_view> kRestyleArgument = {
      "mathbf", "mathit", "mathsf", "mathcal", "mathbb", "mathfrak", "mathscr", "mathtt",
      "hat",    "bar",    "vec",    "tilde",   "dot"};
  static const std::set<std::string_view> kSpace = {"quad", "qquad"};
  constexpr char kNoMatch = '\x01';
  // The argument after position `at`: a {...} group (to its matching brace or
  // the end) or one character; returns where it ends and whether it holds text.
  auto argument = [&](size_t at, bool& has_text) {
    while (at < s.size() && s[at] == ' ') ++at;
    has_text = false;
    if (at == s.size()) return at;
    if (s[at] != '{') {
      has_text = true;
      return at + 1;
    }
    int depth = 0;
    for (; at < s.size(); ++at) {
      if (s[at] == '\\') {  // a command name is no text; an escaped brace does not close the group
        if (at + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[at + 1]))) {
          while (at + 1 < s.size() && std::isalpha(static_cast<unsigned char>(s[at + 1]))) ++at;
        } else if (at + 1 < s.size()) {
          has_text = has_text || std::string_view("{}%$&#_").find(s[++at]) != std::string_view::npos;
        }
      } else if (s[at] == '{') ++depth;
      else if (s[at] == '}' && --depth == 0) return at + 1;
      else if (!std::isspace(static_cast<unsigned char>(s[at]))) has_text = true;
    }
    return at;
  };
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == '{' || s[i] == '}') {
      ++i;
      continue;
    }
    if (s[i] != '\\') {
      out += s[i++];
      continue;
    }
    if (i + 1 == s.size()) break;  // a trailing backslash is dropped
    const char c = s[i + 1];
    if (std::isalpha(static_cast<unsigned char>(c))) {
      size_t end = i + 1;
      while (end < s.size() && std::isalpha(static_cast<unsigned char>(s[end]))) ++end;
      const std::string_view name = s.substr(i + 1, end - i - 1);
      bool has_text = false;
      if (kSpace.count(name)) {
        out += ' ';
      } else if (kDropArgument.count(name)) {
        end = argument(end, has_text);
      } else if (kRestyleArgument.count(name)) {
        end = argument(end, has_text);
        if (has_text) out += kNoMatch;
      } else if (!kKeepArgument.count(name)) {
        out += kNoMatch;
      }
      i = end;
      continue;
    }
    if (c == '\\') out += '\n';
    else if (c == ',' || c == ';' || c == ':' || c == ' ') out += ' ';
    else if (c != '(' && c != ')' && c != '[' && c != ']' && c != '!') out += c;  // \{ -> {, \& -> &
    i += 2;
  }
  for (const auto& [from, to] : {std::pair{"√", "sqrt"}, {"π", "pi"}, {"∞", "inf"}, {"∪", "U"}, {"·", "*"}, {"×", "*"}})
    out = replaced(out, from, to);
  return strip(out);
}

// split_tuple: the elements of "(a,b)" or "[a,b]" (no bracket inside).
std::vector<std::string> split_tuple(std::string expr) {
  expr = strip_thousands_commas(expr);
  if (expr.empty()) return {};
  constexpr std::string_view kTupleChars = "()[]";
  const bool bracketed = expr.size() > 2 && kTupleChars.find(expr.front()) != std::string_view::npos &&
                         kTupleChars.find(expr.back()) != std::string_view::npos &&
                         expr.substr(1, expr.size() - 2).find_first_of(kTupleChars) == std::string::npos;
  if (!bracketed) return {expr};
  std::vector<std::string> elems;
  const std::string inner = expr.substr(1, expr.size() - 2);
  size_t at = 0;
  for (size_t comma = inner.find(','); ; comma = inner.find(',', at)) {
    elems.push_back(strip(inner.substr(at, comma == std::string::npos ? std::string::npos : comma - at)));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return elems;
}

bool is_fraction(const std::string& s) {
  static const Regex kFrac(R"(^-?[0-9]+.?/0*[1-9][0-9]*.?$)");
  return kFrac.search(s).has_value();
}

// sympy.simplify(a - b) == 0, as far as it is reproduced: the identical
// letter or number (sympy's parser ignores surrounding whitespace).
bool sympy_equal(const std::string& a, const std::string& b) {
  static const Regex kPlain(R"([a-z]|-?[0-9]+(\.[0-9]+)?)");
  return strip(a) == strip(b) && kPlain.full_match(strip(a));
}

}  // namespace

std::string mathd_normalize(std::string_view raw) {
  std::string answer = strip(raw);
  if (auto inner = enclosing_text(answer)) answer = strip(*inner);
  std::string s = replaced(answer, "\n", "");
  s = replaced(s, "\\!", "");
  s = replaced(s, "\\\\", "\\");
  s = replaced(s, "tfrac", "frac");
  s = replaced(s, "dfrac", "frac");
  for (const char* gone : {"\\left", "\\right", "^{\\circ}", "^\\circ", "\\$"}) s = replaced(s, gone, "");
  // _remove_right_units: its assert fails on two "\text{ ", and the
  // exception makes normalize_answer return the answer as it was.
  if (const size_t unit = s.find("\\text{ "); unit != std::string::npos) {
    if (s.find("\\text{ ", unit + 1) != std::string::npos) return answer;
    s.erase(unit);
  }
  s = replaced(s, "\\%", "");
  s = replaced(s, "%", "");
  s = replaced(s, " .", " 0.");
  s = replaced(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s.front() == '.') s = "0" + s;
  if (const size_t eq = s.find('='); eq != std::string::npos && s.find('=', eq + 1) == std::string::npos && eq <= 2)
    s.erase(0, eq + 1);
  return replaced(s, " ", "");
}

std::string grader_normalize(std::string_view raw) {
  std::string expr(raw);
  if (auto inner = enclosing_text(expr)) expr = *inner;
  expr = replaced(expr, "\\%", "%");
  expr = replaced(expr, "\\$", "$");
  expr = replaced(expr, "$", "");
  expr = replaced(expr, "%", "");
  expr = replaced(expr, " or ", " , ");
  expr = replaced(expr, " and ", " , ");
  expr = replaced(expr, "million", "*10^6");
  expr = replaced(expr, "billion", "*10^9");
  expr = replaced(expr, "trillion", "*10^12");
  static const std::vector<Regex> kUnits = [] {
    std::vector<Regex> units;
    for (const char* unit : {"degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week",
                             "month", "year", "foot", "feet", "inch", "yard"})
      units.emplace_back(std::string(unit) + R"((es)?(s)? *(\^[0-9]+)?)");
    return units;
  }();
  for (const Regex& unit : kUnits) expr = unit.replace_all(expr, "");
  static const Regex kCirc(R"(\^ *\\circ)"), kThinSpace(R"(,\\! *)"), kMinus("- *");
  expr = kCirc.replace_all(expr, "");
  if (!expr.empty() && expr.front() == '{' && expr.back() == '}') expr = expr.substr(1, expr.size() - 2);
  expr = kThinSpace.replace_all(expr, "");
  if (auto v = python_float(expr); v && near_int(*v)) expr = int_string(std::nearbyint(*v));
  if (expr.find('\\') != std::string::npos) expr = latex_to_text(expr);
  expr = kMinus.replace_all(expr, "-");
  // _inject_implicit_mixed_number: "7 3/4" -> "7+3/4".
  std::string mixed;
  for (size_t i = 0; i < expr.size();) {
    size_t j = i + 1;
    while (j < expr.size() && expr[j] == ' ') ++j;
    if (is_digit(expr[i]) && j > i + 1 && j < expr.size() && is_digit(expr[j])) {
      (mixed += expr[i]) += '+';
      mixed += expr[j];
      i = j + 1;
      continue;
    }
    mixed += expr[i++];
  }
  expr.clear();
  for (char c : mixed)
    if (c != ' ' && c != '{' && c != '}') expr += c;
  expr = lower(expr);
  if (auto i = integer_text(expr)) expr = *i;
  return expr;
}

bool grade_answer(std::string_view given, std::string_view truth) {
  if (mathd_normalize(truth) == mathd_normalize(given)) return true;
  const std::string t = grader_normalize(truth), g = grader_normalize(given);
  if (t == g) return true;
  if (g.empty()) return false;
  const std::vector<std::string> t_elems = split_tuple(t), g_elems = split_tuple(g);
  if (t_elems.size() > 1 && (t.front() != g.front() || t.back() != g.back())) return false;
  if (t_elems.size() != g_elems.size()) return false;
  for (size_t i = 0; i < t_elems.size(); ++i) {
    const std::string &a = t_elems[i], &b = g_elems[i];
    bool equal = false;
    if (is_fraction(a) && is_fraction(b)) equal = a == b;
    else if (integer_text(a).has_value() != integer_text(b).has_value()) equal = false;
    else equal = sympy_equal(a, b);
    if (!equal) return false;
  }
  return true;
}

}  // namespace mstar::data
