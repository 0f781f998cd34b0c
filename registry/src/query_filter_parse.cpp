// The --where language's recursive-descent parser (grammar in
// mstar/registry/query.h); evaluation is in query_filter.cpp.
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

namespace mstar::registry::filter {

namespace {

using Node = Filter::Node;

// ---------------------------------------------------------------- parser

// Dates for created/started/finished: YYYY-MM-DD[( |T)HH:MM[:SS]], local time.
std::optional<double> parse_date(const std::string &s) {
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

std::string describe(const Token &t) {
  switch (t.kind) {
    case Tok::End:
      return "the end of the expression";
    case Tok::String:
      return "'" + t.text + "'";
    default:
      return "'" + t.text + "'";
  }
}

class Parser {
 public:
  Parser(const Lexer &lexer, std::vector<Token> tokens, std::vector<Field> &fields)
      : lexer_(lexer), toks_(std::move(tokens)), fields_(fields) {}

  Node parse() {
    Node root = parse_or();
    if (cur().kind == Tok::RParen) lexer_.fail(cur().col, "unbalanced ')'");
    if (cur().kind != Tok::End)
      lexer_.fail(cur().col, "unexpected " + describe(cur()) + " after a complete expression (missing 'and'/'or'?)");
    return root;
  }

 private:
  const Token &cur() const { return toks_[i_]; }
  const Token &take() { return toks_[i_ < toks_.size() - 1 ? i_++ : i_]; }

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
    Nested(Parser &p) : p_(p) {
      if (++p_.depth_ > kMaxFilterNesting)
        p_.lexer_.fail(p_.cur().col,
                       fmt::format("expression nested deeper than {} levels of '(' and 'not'", kMaxFilterNesting));
    }
    ~Nested() { --p_.depth_; }

   private:
    Parser &p_;
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
        lexer_.fail(cur().col,
                    fmt::format("expected ')' to close the '(' at column {}, got {}", open, describe(cur())));
      take();
      return inner;
    }
    return parse_test();
  }

  // `context`: what the operand follows, for "expected a value after '>='".
  Node::Operand parse_operand(const std::string &context) {
    const Token &t = cur();
    Node::Operand o;
    switch (t.kind) {
      case Tok::Ident: {
        Field f;
        try {
          f = parse_field(t.text);
        } catch (const Error &e) {
          lexer_.fail(t.col, e.what());
        }
        o.is_field = true;
        o.field = add_field(f);
        break;
      }
      case Tok::Number:
        o.literal = t.number;
        break;
      case Tok::String:
        o.literal = t.text;
        break;
      case Tok::True:
        o.literal = true;
        break;
      case Tok::False:
        o.literal = false;
        break;
      case Tok::Null:
        lexer_.fail(t.col, "null is not a value: use 'is null' or 'is not null'");
      case Tok::End:
        lexer_.fail(t.col, "expected " + context);
      default:
        lexer_.fail(t.col, "expected " + context + ", got " + describe(t));
    }
    take();
    return o;
  }

  size_t add_field(const Field &f) {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i] == f) return i;
    fields_.push_back(f);
    return fields_.size() - 1;
  }

  // A string literal compared with created/started/finished is a date.
  void dates(const Node::Operand &field_side, Node::Operand &other, const Token &other_tok) {
    if (!field_side.is_field || other.is_field || !fields_[field_side.field].is_time()) return;
    const auto *s = std::get_if<std::string>(&other.literal);
    if (!s) return;
    auto t = parse_date(*s);
    if (!t)
      lexer_.fail(other_tok.col, fmt::format("expected a date like '2025-05-01' or "
                                             "'2025-05-01 14:30' to compare "
                                             "with {}, got '{}'",
                                             fields_[field_side.field].key, *s));
    other.literal = *t;
  }

  Node parse_test() {
    const Token first = cur();
    Node n;
    n.lhs = parse_operand(
        "a field (params.KEY, metrics.NODE.KEY, status...), "
        "a value, 'not' or '('");
    const std::string lhs_text = first.kind == Tok::String ? "'" + first.text + "'" : first.text;
    bool negated = false;
    if (cur().kind == Tok::Not) {
      take();
      negated = true;
      if (cur().kind != Tok::In && cur().kind != Tok::Like)
        lexer_.fail(cur().col, "expected 'in' or 'like' after 'not', got " + describe(cur()));
    }
    const Token &t = cur();
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
        lexer_.fail(t.col,
                    "expected a comparison (=, !=, <, <=, >, >=, in, "
                    "like, is null) after '" +
                        lhs_text + "', got " + describe(t));
    }
  }

  const Lexer &lexer_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  size_t depth_ = 0;
  std::vector<Field> &fields_;
};

}  // namespace

bool parse(std::string_view text, std::string_view option, std::vector<Field> &fields, Node &root) {
  Lexer lexer(text, option);
  std::vector<Token> tokens = lexer.tokens();
  if (tokens.front().kind == Tok::End) return false;
  Parser parser(lexer, std::move(tokens), fields);
  root = parser.parse();
  return true;
}

}  // namespace mstar::registry::filter
