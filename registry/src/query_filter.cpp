// The --where language's three-valued evaluator and canonical text over the
// tree that query_filter_parse.cpp builds.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>

#include "mstar/error.h"
#include "query_filter_syntax.h"

namespace mstar::registry {
namespace {

using Node = Filter::Node;

// ---------------------------------------------------------------- evaluation

enum class Tri { False, True, Unknown };

Tri tri(bool b) { return b ? Tri::True : Tri::False; }
Tri negate(Tri t) { return t == Tri::Unknown ? t : tri(t == Tri::False); }

// Numbers compare as numbers, strings as strings, bools as bools. Mixed:
// numerically when both sides read as numbers, else as text. nullopt:
// unknown (a missing value or NaN).
std::optional<int> compare_typed(const Value &a, const Value &b) {
  if (is_missing(a) || is_missing(b)) return std::nullopt;
  const bool same_type = a.index() == b.index();
  if (same_type && std::holds_alternative<std::string>(a)) {
    const int c = std::get<std::string>(a).compare(std::get<std::string>(b));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  auto x = to_number(a), y = to_number(b);
  if (x && y) {
    if (std::isnan(*x) || std::isnan(*y)) return std::nullopt;
    return *x < *y ? -1 : (*x > *y ? 1 : 0);
  }
  const int c = to_text(a).compare(to_text(b));
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

const Value &operand_value(const Node::Operand &o, const std::vector<Value> &values) {
  return o.is_field ? values[o.field] : o.literal;
}

Tri eval(const Node &n, const std::vector<Value> &values) {
  switch (n.kind) {
    case Node::Kind::And: {
      Tri out = Tri::True;
      for (const Node &c : n.children) {
        const Tri t = eval(c, values);
        if (t == Tri::False) return Tri::False;
        if (t == Tri::Unknown) out = Tri::Unknown;
      }
      return out;
    }
    case Node::Kind::Or: {
      Tri out = Tri::False;
      for (const Node &c : n.children) {
        const Tri t = eval(c, values);
        if (t == Tri::True) return Tri::True;
        if (t == Tri::Unknown) out = Tri::Unknown;
      }
      return out;
    }
    case Node::Kind::Not:
      return negate(eval(n.children[0], values));
    case Node::Kind::Compare: {
      auto c = compare_typed(operand_value(n.lhs, values), operand_value(n.rhs[0], values));
      if (!c) return Tri::Unknown;
      if (n.op == "=") return tri(*c == 0);
      if (n.op == "!=") return tri(*c != 0);
      if (n.op == "<") return tri(*c < 0);
      if (n.op == "<=") return tri(*c <= 0);
      if (n.op == ">") return tri(*c > 0);
      return tri(*c >= 0);
    }
    case Node::Kind::In: {
      const Value &v = operand_value(n.lhs, values);
      Tri out = Tri::False;
      for (const auto &item : n.rhs) {
        auto c = compare_typed(v, operand_value(item, values));
        if (!c) {
          out = Tri::Unknown;
          continue;
        }
        if (*c == 0) {
          out = Tri::True;
          break;
        }
      }
      return n.negated ? negate(out) : out;
    }
    case Node::Kind::Like: {
      const Value &v = operand_value(n.lhs, values);
      if (is_missing(v)) return Tri::Unknown;
      const bool m = like_match(to_text(v), n.pattern);
      return tri(n.negated ? !m : m);
    }
    case Node::Kind::IsNull: {
      const bool missing = is_missing(operand_value(n.lhs, values));
      return tri(n.negated ? !missing : missing);
    }
  }
  return Tri::Unknown;
}

std::string quote(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string operand_text(const Node::Operand &o, const std::vector<Field> &fields) {
  if (o.is_field) {
    // A name the lexer cannot read bare (a key with a space) was written
    // `quoted`.
    const Field &field = fields[o.field];
    const std::string name = field.name();
    const size_t plain = field.kind == FieldKind::Series ? name.rfind('@') : name.size();  // before @SEL
    const bool bare = std::all_of(name.begin(), name.begin() + static_cast<long>(plain), filter::is_ident_char);
    return bare ? name : "`" + name + "`";
  }
  if (const auto *s = std::get_if<std::string>(&o.literal)) return quote(*s);
  return to_text(o.literal);
}

std::string node_text(const Node &n, const std::vector<Field> &fields) {
  switch (n.kind) {
    case Node::Kind::And:
    case Node::Kind::Or: {
      std::string out = "(";
      for (size_t i = 0; i < n.children.size(); ++i) {
        if (i) out += n.kind == Node::Kind::And ? " and " : " or ";
        out += node_text(n.children[i], fields);
      }
      return out + ")";
    }
    case Node::Kind::Not:
      return "not " + node_text(n.children[0], fields);
    case Node::Kind::Compare:
      return "(" + operand_text(n.lhs, fields) + " " + n.op + " " + operand_text(n.rhs[0], fields) + ")";
    case Node::Kind::In: {
      std::string out = "(" + operand_text(n.lhs, fields) + (n.negated ? " not in (" : " in (");
      for (size_t i = 0; i < n.rhs.size(); ++i) out += (i ? ", " : "") + operand_text(n.rhs[i], fields);
      return out + "))";
    }
    case Node::Kind::Like:
      return "(" + operand_text(n.lhs, fields) + (n.negated ? " not like " : " like ") + quote(n.pattern) + ")";
    case Node::Kind::IsNull:
      return "(" + operand_text(n.lhs, fields) + (n.negated ? " is not null)" : " is null)");
  }
  return "";
}

}  // namespace

Filter::Filter() = default;

Filter Filter::parse(std::string_view text, std::string_view option) {
  if (text.size() > kMaxExpressionBytes)
    throw Error(ErrorCategory::BadInput, fmt::format("{}: the expression is {} bytes long; at most {} are accepted",
                                                     option, text.size(), kMaxExpressionBytes));
  Filter f;
  Node root;
  if (filter::parse(text, option, f.fields_, root)) f.root_ = std::make_shared<const Node>(std::move(root));
  return f;
}

bool Filter::empty() const { return !root_; }

bool Filter::matches(const std::vector<Value> &values) const {
  if (!root_) return true;
  return eval(*root_, values) == Tri::True;
}

std::string Filter::to_string() const { return root_ ? node_text(*root_, fields_) : ""; }

bool like_match(std::string_view text, std::string_view pattern) {
  auto fold = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  // Iterative matcher with backtracking to the last '%'.
  size_t t = 0, p = 0, star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      const bool escaped = pattern[p] == '\\' && p + 1 < pattern.size();
      const char pc = escaped ? pattern[p + 1] : pattern[p];
      if ((!escaped && pc == '_') || fold(pc) == fold(text[t])) {
        p += escaped ? 2 : 1;
        ++t;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

}  // namespace mstar::registry