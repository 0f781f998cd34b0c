// Private to the registry: the --where language's tokens and syntax tree,
// shared by its lexer (query_filter_lex.cpp), parser (query_filter_parse.cpp)
// and evaluator (query_filter.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

namespace filter {

enum class Tok { End, Ident, Number, String, LParen, RParen, Comma, Op, And, Or, Not, In, Is, Null, Like, True, False };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // as written (Ident: without backquotes; String: unquoted)
  double number = 0;
  size_t col = 1;  // 1-based column of the first character
};

// Splits an expression into tokens; fail() throws Error(BadInput) naming the
// option and the column, with a caret under it (the parser reports through it
// too, so that every message has the same shape).
class Lexer {
 public:
  Lexer(std::string_view text, std::string_view option) : text_(text), option_(option) {}

  [[noreturn]] void fail(size_t col, const std::string &message) const;
  // Every token, ending with one Tok::End.
  std::vector<Token> tokens();

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  Token make(Tok kind, size_t start, std::string text) const;
  Token next();
  Token string(size_t start, char quote);
  Token quoted_ident(size_t start);
  Token number(size_t start);
  Token ident(size_t start);

  std::string_view text_, option_;
  size_t pos_ = 0;
};

// Characters a field name may hold unquoted; to_string() quotes any other.
bool is_ident_char(char c);

// Parses a non-blank --where expression into its tree, appending the fields
// it reads to `fields` (without duplicates). Throws Error(BadInput) naming
// `option` and the column. Returns false, leaving `root` alone, when the
// text is blank (a filter that matches everything).
bool parse(std::string_view text, std::string_view option, std::vector<Field> &fields, Filter::Node &root);

}  // namespace filter
}  // namespace mstar::registry
