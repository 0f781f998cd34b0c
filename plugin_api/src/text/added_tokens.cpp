#include "added_tokens.h"

#include <algorithm>

#include "unicode.h"

namespace mstar::text::detail {

void AddedTokenMatcher::add(const AddedToken& token, std::string pattern) {
  if (pattern.empty()) return;  // `tokenizers` never matches an empty token
  by_first_byte_[static_cast<unsigned char>(pattern[0])].push_back(tokens_.size());
  tokens_.push_back(&token);
  patterns_.push_back(std::move(pattern));
}

void AddedTokenMatcher::split(std::string_view text,
                              const std::function<void(std::string_view, const AddedToken*)>& piece) const {
  if (text.empty() || tokens_.empty()) {
    piece(text, nullptr);
    return;
  }
  size_t emitted = 0;  // `tokenizers`' start_offset
  size_t at = 0;
  while (at < text.size()) {
    // The leftmost position where a token matches, and its longest token
    // there.
    size_t best = SIZE_MAX;
    size_t begin = at;
    for (; begin < text.size(); ++begin) {
      for (size_t t : by_first_byte_[static_cast<unsigned char>(text[begin])]) {
        const std::string& p = patterns_[t];
        if (text.compare(begin, p.size(), p) == 0 && (best == SIZE_MAX || p.size() > patterns_[best].size())) best = t;
      }
      if (best != SIZE_MAX) break;
    }
    if (best == SIZE_MAX) break;
    size_t start = begin, stop = begin + patterns_[best].size();
    at = stop;  // the search goes on after the match, whatever is done with it
    const AddedToken& token = *tokens_[best];
    if (token.single_word) {
      const bool word_before = start > 0 && is_word_char(last_code_point(text, start));
      size_t next = stop;
      const bool word_after = stop < text.size() && is_word_char(next_code_point(text, next));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t prev = 0;
        if (!is_white_space(last_code_point(text, s, &prev))) break;
        s = prev;
      }
      start = std::max(s, emitted);
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t next = stop;
        if (!is_white_space(next_code_point(text, next))) break;
        stop = next;
      }
    }
    start = std::max(start, emitted);
    if (emitted < start) piece(text.substr(emitted, start - emitted), nullptr);
    piece(text.substr(start, stop - start), &token);
    emitted = stop;
  }
  if (emitted < text.size()) piece(text.substr(emitted), nullptr);
}

}  // namespace mstar::text::detail
