// The --where language: a lexer, a recursive-descent parser into a small AST,
// and a three-valued evaluator over one run's field values.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>

#include <fmt/format.h>

#include "mstar/error.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

struct Filter::Node {
  enum class Kind { And, Or, Not, Compare, In, Like, IsNull };
  struct Operand {
    bool is_field = false;
    size_t field = 0;  // index into Filter::fields_
    Value literal;
  };
  Kind kind = Kind::Compare;
  std::vector<Node> children;  // And, Or, Not
  Operand lhs;
  std::vector<Operand> rhs;  // Compare: one; In: the list
  std::string op;            // Compare: = != < <= > >=
  std::string pattern;       // Like
  bool negated = false;      // not in, not like, is not null
};

namespace {

using Node = Filter::Node;

// ---------------------------------------------------------------- lexer

enum class Tok { End, Ident, Number, String, LParen, RParen, Comma, Op, And, Or, Not, In, Is, Null, Like, True, False };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // as written (Ident: without backquotes; String: unquoted)
  double number = 0;
  size_t col = 1;  // 1-based column of the first character
};

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view text, std::string_view option) : text_(text), option_(option) {}

  [[noreturn]] void fail(size_t col, const std::string& message) const {
    throw Error(ErrorCategory::BadInput, fmt::format("{}: column {}: {}\n  {}\n  {}^", option_, col, message, text_,
                                                     std::string(col > 0 ? col - 1 : 0, ' ')));
  }

  std::vector<Token> tokens() {
    std::vector<Token> out;
    for (;;) {
      Token t = next();
      out.push_back(t);
      if (t.kind == Tok::End) return out;
    }
  }

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  Token make(Tok kind, size_t start, std::string text) const {
    Token t;
    t.kind = kind;
    t.col = start + 1;
    t.text = std::move(text);
    return t;
  }

  Token next() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    const size_t start = pos_;
    if (pos_ >= text_.size()) return make(Tok::End, start, "");
    const char c = text_[pos_];
    auto two = [&](const char* s) { return peek() == s[0] && peek(1) == s[1]; };
    if (c == '(') return ++pos_, make(Tok::LParen, start, "(");
    if (c == ')') return ++pos_, make(Tok::RParen, start, ")");
    if (c == ',') return ++pos_, make(Tok::Comma, start, ",");
    for (const char* op : {"==", "!=", "<>", "<=", ">="}) {
      if (!two(op)) continue;
      pos_ += 2;
      std::string norm = op;
      if (norm == "==") norm = "=";
      if (norm == "<>") norm = "!=";
      return make(Tok::Op, start, norm);
    }
    if (two("&&")) return pos_ += 2, make(Tok::And, start, "&&");
    if (two("||")) return pos_ += 2, make(Tok::Or, start, "||");
    if (c == '=' || c == '<' || c == '>') return ++pos_, make(Tok::Op, start, std::string(1, c));
    if (c == '!') return ++pos_, make(Tok::Not, start, "!");
    if (c == '\'' || c == '"') return string(start, c);
    if (c == '`') return quoted_ident(start);
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        ((c == '-' || c == '+' || c == '.') &&
         (std::isdigit(static_cast<unsigned char>(peek(1))) ||
          (peek(1) == '.' && std::isdigit(static_cast<unsigned char>(peek(2)))))))
      return number(start);
    if (is_ident_start(c)) return ident(start);
    fail(start + 1, fmt::format("unexpected character '{}'", c));
  }

  // 'it''s' or "say ""hi""": a doubled quote is one quote character.
  Token string(size_t start, char quote) {
    std::string value;
    ++pos_;
    for (;;) {
      if (pos_ >= text_.size()) fail(start + 1, "unterminated string (no closing " + std::string(1, quote) + ")");
      if (text_[pos_] == quote) {
        if (peek(1) == quote) {
          value += quote;
          pos_ += 2;
          continue;
        }
        ++pos_;
        return make(Tok::String, start, value);
      }
      value += text_[pos_++];
    }
  }

  Token quoted_ident(size_t start) {
    const size_t end = text_.find('`', pos_ + 1);
    if (end == std::string_view::npos) fail(start + 1, "unterminated `quoted field`");
    Token t = make(Tok::Ident, start, std::string(text_.substr(pos_ + 1, end - pos_ - 1)));
    pos_ = end + 1;
    return t;
  }

  Token number(size_t start) {
    size_t p = pos_;
    if (text_[p] == '-' || text_[p] == '+') ++p;
    while (p < text_.size() && std::isdigit(static_cast<unsigned char>(text_[p]))) ++p;
    if (p < text_.size() && text_[p] == '.') {
      ++p;
      while (p < text_.size() && std::isdigit(static_cast<unsigned char>(text_[p]))) ++p;
    }
    if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
      size_t q = p + 1;
      if (q < text_.size() && (text_[q] == '-' || text_[q] == '+')) ++q;
      if (q < text_.size() && std::isdigit(static_cast<unsigned char>(text_[q]))) {
        p = q;
        while (p < text_.size() && std::isdigit(static_cast<unsigned char>(text_[p]))) ++p;
      }
    }
    if (p < text_.size() && (is_ident_char(text_[p]) && text_[p] != '-'))
      fail(p + 1, fmt::format("unexpected character '{}' in a number", text_[p]));
    Token t = make(Tok::Number, start, std::string(text_.substr(pos_, p - pos_)));
    std::string digits = t.text[0] == '+' ? t.text.substr(1) : t.text;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.number);
    if (ec != std::errc() || end != digits.data() + digits.size()) fail(start + 1, "bad number '" + t.text + "'");
    pos_ = p;
    return t;
  }

  // A field name (dotted, may hold / and -), optionally @selector or
  // @step=N; a word without dots may be a keyword.
  Token ident(size_t start) {
    size_t p = pos_;
    while (p < text_.size() && is_ident_char(text_[p])) ++p;
    if (p < text_.size() && text_[p] == '@') {
      ++p;
      while (p < text_.size() && std::isalpha(static_cast<unsigned char>(text_[p]))) ++p;
      if (p < text_.size() && text_[p] == '=' && text_.substr(0, p).ends_with("@step")) {
        ++p;
        if (p < text_.size() && (text_[p] == '-' || text_[p] == '+')) ++p;
        while (p < text_.size() && std::isdigit(static_cast<unsigned char>(text_[p]))) ++p;
      }
    }
    std::string word(text_.substr(pos_, p - pos_));
    pos_ = p;
    if (word.find('.') == std::string::npos && word.find('@') == std::string::npos) {
      static const std::pair<const char*, Tok> kKeywords[] = {
          {"and", Tok::And},   {"or", Tok::Or},     {"not", Tok::Not},   {"in", Tok::In},     {"is", Tok::Is},
          {"null", Tok::Null}, {"like", Tok::Like}, {"true", Tok::True}, {"false", Tok::False}};
      const std::string low = lower(word);
      for (const auto& [kw, kind] : kKeywords)
        if (low == kw) return make(kind, start, word);
    }
    return make(Tok::Ident, start, word);
  }

  std::string_view text_, option_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------- parser

// Dates for created/started/finished: YYYY-MM-DD[( |T)HH:MM[:SS]], local time.
std::optional<double> parse_date(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char sep = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed) != 3) return std::nullopt;
  if (static_cast<size_t>(consumed) != s.size()) {
    int more = 0;
    const int n = std::sscanf(s.c_str() + consumed, "%c%2d:%2d%n:%2d%n", &sep, &h, &mi, &more, &sec, &more);
    if (n < 3 || (sep != ' ' && sep != 'T') || static_cast<size_t>(consumed + more) != s.size()) return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<double>(t);
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Tok::End: return "the end of the expression";
    case Tok::String: return "'" + t.text + "'";
    default: return "'" + t.text + "'";
  }
}

class Parser {
 public:
  Parser(const Lexer& lexer, std::vector<Token> tokens, std::vector<Field>& fields)
      : lexer_(lexer), toks_(std::move(tokens)), fields_(fields) {}

  Node parse() {
    Node root = parse_or();
    if (cur().kind == Tok::RParen) lexer_.fail(cur().col, "unbalanced ')'");
    if (cur().kind != Tok::End)
      lexer_.fail(cur().col, "unexpected " + describe(cur()) + " after a complete expression (missing 'and'/'or'?)");
    return root;
  }

 private:
  const Token& cur() const { return toks_[i_]; }
  const Token& take() { return toks_[i_ < toks_.size() - 1 ? i_++ : i_]; }

  Node combine(Node::Kind kind, Node left, Node right) {
    if (left.kind == kind) {
      left.children.push_back(std::move(right));
      return left;
    }
    Node n;
    n.kind = kind;
    n.children.push_back(std::move(left));
    n.children.push_back(std::move(right));
    return n;
  }

  Node parse_or() {
    Node left = parse_and();
    while (cur().kind == Tok::Or) {
      take();
      left = combine(Node::Kind::Or, std::move(left), parse_and());
    }
    return left;
  }

  Node parse_and() {
    Node left = parse_unary();
    while (cur().kind == Tok::And) {
      take();
      left = combine(Node::Kind::And, std::move(left), parse_unary());
    }
    return left;
  }

  // Each '(' and 'not' is a level of recursion here and in eval() and
  // node_text(): without a bound, 20,000 '(' overflow the stack.
  class Nested {
   public:
    Nested(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxFilterNesting)
        p_.lexer_.fail(p_.cur().col, fmt::format("expression nested deeper than {} levels of '(' and 'not'",
                                                 kMaxFilterNesting));
    }
    ~Nested() { --p_.depth_; }

   private:
    Parser& p_;
  };

  Node parse_unary() {
    if (cur().kind == Tok::Not) {
      const Nested level(*this);
      take();
      Node n;
      n.kind = Node::Kind::Not;
      n.children.push_back(parse_unary());
      return n;
    }
    if (cur().kind == Tok::LParen) {
      const Nested level(*this);
      const size_t open = cur().col;
      take();
      if (cur().kind == Tok::RParen) lexer_.fail(cur().col, "empty parentheses");
      Node inner = parse_or();
      if (cur().kind != Tok::RParen)
        lexer_.fail(cur().col, fmt::format("expected ')' to close the '(' at column {}, got {}", open, describe(cur())));
      take();
      return inner;
    }
    return parse_test();
  }

  // `context`: what the operand follows, for "expected a value after '>='".
  Node::Operand parse_operand(const std::string& context) {
    const Token& t = cur();
    Node::Operand o;
    switch (t.kind) {
      case Tok::Ident: {
        Field f;
        try {
          f = parse_field(t.text);
        } catch (const Error& e) {
          lexer_.fail(t.col, e.what());
        }
        o.is_field = true;
        o.field = add_field(f);
        break;
      }
      case Tok::Number: o.literal = t.number; break;
      case Tok::String: o.literal = t.text; break;
      case Tok::True: o.literal = true; break;
      case Tok::False: o.literal = false; break;
      case Tok::Null: lexer_.fail(t.col, "null is not a value: use 'is null' or 'is not null'");
      case Tok::End: lexer_.fail(t.col, "expected " + context);
      default: lexer_.fail(t.col, "expected " + context + ", got " + describe(t));
    }
    take();
    return o;
  }

  size_t add_field(const Field& f) {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i] == f) return i;
    fields_.push_back(f);
    return fields_.size() - 1;
  }

  // A string literal compared with created/started/finished is a date.
  void dates(const Node::Operand& field_side, Node::Operand& other, const Token& other_tok) {
    if (!field_side.is_field || other.is_field || !fields_[field_side.field].is_time()) return;
    const auto* s = std::get_if<std::string>(&other.literal);
    if (!s) return;
    auto t = parse_date(*s);
    if (!t)
      lexer_.fail(other_tok.col, fmt::format("expected a date like '2025-05-01' or '2025-05-01 14:30' to compare "
                                             "with {}, got '{}'",
                                             fields_[field_side.field].key, *s));
    other.literal = *t;
  }

  Node parse_test() {
    const Token first = cur();
    Node n;
    n.lhs = parse_operand("a field (params.KEY, metrics.NODE.KEY, status...), a value, 'not' or '('");
    const std::string lhs_text = first.kind == Tok::String ? "'" + first.text + "'" : first.text;
    bool negated = false;
    if (cur().kind == Tok::Not) {
      take();
      negated = true;
      if (cur().kind != Tok::In && cur().kind != Tok::Like)
        lexer_.fail(cur().col, "expected 'in' or 'like' after 'not', got " + describe(cur()));
    }
    const Token& t = cur();
    switch (t.kind) {
      case Tok::Op: {
        const Token op = take();
        n.kind = Node::Kind::Compare;
        n.op = op.text;
        const Token rhs_tok = cur();
        n.rhs.push_back(parse_operand("a value after '" + op.text + "'"));
        dates(n.lhs, n.rhs[0], rhs_tok);
        dates(n.rhs[0], n.lhs, first);
        return n;
      }
      case Tok::In: {
        take();
        n.kind = Node::Kind::In;
        n.negated = negated;
        if (cur().kind != Tok::LParen) lexer_.fail(cur().col, "expected '(' after 'in', got " + describe(cur()));
        take();
        for (;;) {
          const Token item = cur();
          n.rhs.push_back(parse_operand("a value in the 'in' list"));
          dates(n.lhs, n.rhs.back(), item);
          if (cur().kind == Tok::Comma) {
            take();
            continue;
          }
          if (cur().kind == Tok::RParen) break;
          lexer_.fail(cur().col, "expected ',' or ')' in the 'in' list, got " + describe(cur()));
        }
        take();
        return n;
      }
      case Tok::Like: {
        take();
        n.kind = Node::Kind::Like;
        n.negated = negated;
        if (cur().kind != Tok::String)
          lexer_.fail(cur().col, "expected a quoted pattern after 'like' (e.g. 'grpo%'), got " + describe(cur()));
        n.pattern = take().text;
        return n;
      }
      case Tok::Is: {
        take();
        n.kind = Node::Kind::IsNull;
        if (cur().kind == Tok::Not) {
          take();
          n.negated = true;
        }
        if (cur().kind != Tok::Null)
          lexer_.fail(cur().col, "expected 'null' or 'not null' after 'is', got " + describe(cur()));
        take();
        return n;
      }
      default:
        lexer_.fail(t.col, "expected a comparison (=, !=, <, <=, >, >=, in, like, is null) after '" + lhs_text +
                               "', got " + describe(t));
    }
  }

  const Lexer& lexer_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  size_t depth_ = 0;
  std::vector<Field>& fields_;
};

// ---------------------------------------------------------------- evaluation

enum class Tri { False, True, Unknown };

Tri tri(bool b) { return b ? Tri::True : Tri::False; }
Tri negate(Tri t) { return t == Tri::Unknown ? t : tri(t == Tri::False); }

// Numbers compare as numbers, strings as strings, bools as bools. Mixed:
// numerically when both sides read as numbers, else as text. nullopt:
// unknown (a missing value or NaN).
std::optional<int> compare_typed(const Value& a, const Value& b) {
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

const Value& operand_value(const Node::Operand& o, const std::vector<Value>& values) {
  return o.is_field ? values[o.field] : o.literal;
}

Tri eval(const Node& n, const std::vector<Value>& values) {
  switch (n.kind) {
    case Node::Kind::And: {
      Tri out = Tri::True;
      for (const Node& c : n.children) {
        const Tri t = eval(c, values);
        if (t == Tri::False) return Tri::False;
        if (t == Tri::Unknown) out = Tri::Unknown;
      }
      return out;
    }
    case Node::Kind::Or: {
      Tri out = Tri::False;
      for (const Node& c : n.children) {
        const Tri t = eval(c, values);
        if (t == Tri::True) return Tri::True;
        if (t == Tri::Unknown) out = Tri::Unknown;
      }
      return out;
    }
    case Node::Kind::Not: return negate(eval(n.children[0], values));
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
      const Value& v = operand_value(n.lhs, values);
      Tri out = Tri::False;
      for (const auto& item : n.rhs) {
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
      const Value& v = operand_value(n.lhs, values);
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

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string operand_text(const Node::Operand& o, const std::vector<Field>& fields) {
  if (o.is_field) {
    // A name the lexer cannot read bare (a key with a space) was written `quoted`.
    const Field& field = fields[o.field];
    const std::string name = field.name();
    const size_t plain = field.kind == FieldKind::Series ? name.rfind('@') : name.size();  // before @SEL
    const bool bare = std::all_of(name.begin(), name.begin() + static_cast<long>(plain), is_ident_char);
    return bare ? name : "`" + name + "`";
  }
  if (const auto* s = std::get_if<std::string>(&o.literal)) return quote(*s);
  return to_text(o.literal);
}

std::string node_text(const Node& n, const std::vector<Field>& fields) {
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
    case Node::Kind::Not: return "not " + node_text(n.children[0], fields);
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
  Lexer lexer(text, option);
  std::vector<Token> tokens = lexer.tokens();
  if (tokens.front().kind == Tok::End) return f;  // blank: everything
  Parser parser(lexer, std::move(tokens), f.fields_);
  f.root_ = std::make_shared<const Node>(parser.parse());
  return f;
}

bool Filter::empty() const { return !root_; }

bool Filter::matches(const std::vector<Value>& values) const {
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
