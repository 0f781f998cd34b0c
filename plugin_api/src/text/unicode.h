// UTF-8 and Unicode helpers of the tokenizer (private to libmstar_text):
// strict validation, Rust's lossy decoding, NFC through utf8proc, the
// character classes `tokenizers` uses for added tokens, and GPT-2's
// byte-level alphabet.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mstar::text::detail {

inline constexpr size_t kValidUtf8 = std::string_view::npos;

// Offset of the first byte that does not start a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF included), or
// kValidUtf8.
size_t invalid_utf8_at(std::string_view s);

// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one
// U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// The code point starting at s[at] (s valid UTF-8); `at` moves past it.
char32_t next_code_point(std::string_view s, size_t& at);
// The code point ending just before s[end] (s valid UTF-8).
char32_t last_code_point(std::string_view s, size_t end, size_t* start = nullptr);

inline bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Unicode canonical composition (NFC).
std::string nfc(std::string_view s);

// Rust regex's \s (White_Space) and \w (Alphabetic, marks, Nd, Pc,
// Join_Control), which `tokenizers` uses for lstrip/rstrip and single_word.
bool is_white_space(char32_t c);
bool is_word_char(char32_t c);

// GPT-2's bytes_to_unicode: each byte as a printable character (UTF-8).
const std::array<std::string, 256>& byte_level_chars();
// The inverse on code points: the byte a byte-level character stands for,
// or -1.
int byte_of_level_char(char32_t c);

}  // namespace mstar::text::detail
