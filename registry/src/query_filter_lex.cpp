// The --where language's lexer (query_filter_syntax.h).
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <string>

#include "mstar/error.h"
#include "query_filter_syntax.h"

namespace mstar::registry::filter {

bool is_ident_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-';
}

namespace {

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char &c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

void Lexer::fail(size_t col, const std::string &message) const {
  throw Error(ErrorCategory::BadInput, fmt::format("{}: column {}: {}\n  {}\n  {}^", option_, col, message, text_,
                                                   std::string(col > 0 ? col - 1 : 0, ' ')));
}

std::vector<Token> Lexer::tokens() {
  std::vector<Token> out;
  for (;;) {
    Token t = next();
    out.push_back(t);
    if (t.kind == Tok::End) return out;
  }
}

Token Lexer::make(Tok kind, size_t start, std::string text) const {
  Token t;
  t.kind = kind;
  t.col = start + 1;
  t.text = std::move(text);
  return t;
}

Token Lexer::next() {
  while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  const size_t start = pos_;
  if (pos_ >= text_.size()) return make(Tok::End, start, "");
  const char c = text_[pos_];
  auto two = [&](const char *s) { return peek() == s[0] && peek(1) == s[1]; };
  if (c == '(') return ++pos_, make(Tok::LParen, start, "(");
  if (c == ')') return ++pos_, make(Tok::RParen, start, ")");
  if (c == ',') return ++pos_, make(Tok::Comma, start, ",");
  for (const char *op : {"==", "!=", "<>", "<=", ">="}) {
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
      ((c == '-' || c == '+' || c == '.') && (std::isdigit(static_cast<unsigned char>(peek(1))) ||
                                              (peek(1) == '.' && std::isdigit(static_cast<unsigned char>(peek(2)))))))
    return number(start);
  if (is_ident_start(c)) return ident(start);
  fail(start + 1, fmt::format("unexpected character '{}'", c));
}

// 'it''s' or "say ""hi""": a doubled quote is one quote character.
Token Lexer::string(size_t start, char quote) {
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

Token Lexer::quoted_ident(size_t start) {
  const size_t end = text_.find('`', pos_ + 1);
  if (end == std::string_view::npos) fail(start + 1, "unterminated `quoted field`");
  Token t = make(Tok::Ident, start, std::string(text_.substr(pos_ + 1, end - pos_ - 1)));
  pos_ = end + 1;
  return t;
}

Token Lexer::number(size_t start) {
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
Token Lexer::ident(size_t start) {
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
    static const std::pair<const char *, Tok> kKeywords[] = {
        {"and", Tok::And},   {"or", Tok::Or},     {"not", Tok::Not},   {"in", Tok::In},      {"is", Tok::Is},
        {"null", Tok::Null}, {"like", Tok::Like}, {"true", Tok::True}, {"false", Tok::False}};
    const std::string low = lower(word);
    for (const auto &[kw, kind] : kKeywords)
      if (low == kw) return make(kind, start, word);
  }
  return make(Tok::Ident, start, word);
}

}  // namespace mstar::registry::filter
