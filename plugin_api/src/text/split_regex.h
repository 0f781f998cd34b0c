// The Split pre-tokenizer's regex on PCRE2 (JIT): tokenizer.json's patterns
// are Oniguruma patterns, read here the way `tokenizers` reads them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mstar::text::detail {

// `pattern` with \s and \S made Oniguruma's (Unicode White_Space; PCRE2's
// \s differs at U+180E). Throws Error(BadInput) naming `key` for the escapes
// the two engines read differently (\w \W \b \B \h \H) and for \S inside a
// character class.
std::string oniguruma_to_pcre2(std::string_view pattern, const std::string& key);

class SplitRegex {
 public:
  // Throws Error(BadInput) naming `key` and the column for a bad pattern.
  SplitRegex(std::string_view oniguruma_pattern, const std::string& key);
  ~SplitRegex();
  SplitRegex(SplitRegex&&) noexcept;
  SplitRegex& operator=(SplitRegex&&) noexcept;

  // Behaviour "Isolated": every match and every stretch between matches,
  // in order, empty ones left out. `text` must be valid UTF-8.
  void split(std::string_view text, const std::function<void(std::string_view)>& piece) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mstar::text::detail
