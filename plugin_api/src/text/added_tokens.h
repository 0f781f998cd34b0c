// Cutting added tokens out of text, as `tokenizers`' AddedVocabulary does:
// leftmost-longest matches, then single_word, lstrip and rstrip (private to
// libmstar_text).
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/text/hf_tokenizer.h"

namespace mstar::text::detail {

class AddedTokenMatcher {
 public:
  // `pattern` is what is searched for: the token's content, normalised for
  // a token with normalized=true.
  void add(const AddedToken& token, std::string pattern);
  bool empty() const { return tokens_.empty(); }

  // `text` in order as pieces: a matched token (with the whitespace its
  // lstrip/rstrip took) with its token, the text between with nullptr.
  // Empty text is one empty piece, as in `tokenizers`.
  void split(std::string_view text, const std::function<void(std::string_view, const AddedToken*)>& piece) const;

 private:
  std::vector<const AddedToken*> tokens_;
  std::vector<std::string> patterns_;
  std::array<std::vector<size_t>, 256> by_first_byte_;
};

}  // namespace mstar::text::detail
