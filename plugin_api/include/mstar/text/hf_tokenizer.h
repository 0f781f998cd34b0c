// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (the Qwen and
// GPT-2 families), giving the ids and text that the `tokenizers` library
// gives for the same file. No LibTorch: it lives in libmstar_text
// (docs/tokenizer.md).
//
// Limit: `tokenizers`' regexes (Oniguruma) know Unicode 16, Debian 12's
// PCRE2 Unicode 14; a letter or digit assigned since is unassigned here, and
// a piece holding one can split differently. NFC follows Unicode (utf8proc)
// where `tokenizers`' own NFC leaves a rare mark sequence unordered.
//
//   HfTokenizer tok = HfTokenizer::load(dir / "tokenizer.json");
//   std::vector<int64_t> ids = tok.encode("<|im_start|>user\nIs the sky green?<|im_end|>\n");
//   std::string text = tok.decode(ids, /*skip_special_tokens=*/true);
//
// encode() follows `tokenizers`' order: added tokens are cut out of the raw
// text first (leftmost-longest; their single_word, lstrip, rstrip flags as
// the file says; those with normalized=false are matched before the
// normaliser runs, those with normalized=true after it, on the normalised
// text), then each remaining piece is normalised (NFC), split by the
// pre-tokenizer (Split regexes, ByteLevel) and merged by BPE, lowest merge
// rank first, leftmost on ties. Special tokens in the text are always
// recognised, as `tokenizers` does by default.
//
// What a file may hold: model BPE (merges as pairs or "a b" strings,
// ignore_merges, unk_token; no dropout, byte_fallback or subword affixes);
// normalizer null, NFC or a Sequence of those; pre_tokenizer Split (Regex or
// String pattern, behavior Isolated, invert false), ByteLevel
// (add_prefix_space false) or a Sequence of those, ending in ByteLevel;
// post_processor null or ByteLevel; decoder ByteLevel or null; truncation and
// padding null. Anything else is refused with Error(BadInput) naming the key
// (`pre_tokenizer.pretokenizers[0].behavior`), never silently tokenized
// differently.
//
// Split regexes are Oniguruma patterns in the file; they run here on PCRE2
// (private to libmstar_text). \s and \S are read as Oniguruma reads them
// (Unicode White_Space); \w, \W, \b, \B, \h and \H, which the two engines
// read differently, are refused.
//
// Added tokens get the ids `tokenizers` gives them when it reads the file
// (a content the model's vocabulary holds takes the model's id; a new one
// the next free id after the vocabulary); files it wrote agree with that.
//
// An encoder is immutable once loaded and safe to share between threads;
// copies share it (and its cache of merged words).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mstar/json.h"

namespace mstar::text {

// One entry of tokenizer.json's "added_tokens".
struct AddedToken {
  int64_t id = 0;
  std::string content;
  bool single_word = false;  // matched only where no word character touches it
  bool lstrip = false;       // swallows the whitespace before it
  bool rstrip = false;       // swallows the whitespace after it
  bool normalized = true;    // matched in the normalised text, not the raw one
  bool special = false;      // dropped by decode(ids, skip_special_tokens=true)
};

class HfTokenizer {
 public:
  // Throws Error(BadInput) naming `origin` and the key for a file it does
  // not support or that is malformed; Error(Io) for an unreadable file.
  static HfTokenizer load(const std::filesystem::path& file);
  static HfTokenizer from_json(const Json& json, const std::string& origin = "tokenizer.json");

  // Throws Error(BadInput) for text that is not valid UTF-8 (naming the
  // byte offset), as `tokenizers` accepts only str.
  std::vector<int64_t> encode(std::string_view text) const;

  // The ByteLevel decoder: tokens back to bytes, then UTF-8 with each
  // invalid sequence replaced by U+FFFD (Rust's from_utf8_lossy, as
  // `tokenizers` does, so a cut-off multi-byte character decodes the same).
  // Ids outside the vocabulary are skipped, as `tokenizers` skips them: a
  // model's output layer is often larger than its vocabulary. (Python's
  // `Tokenizer.decode` skips special tokens by default; this does not.)
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  // The token as stored (byte-level characters, e.g. "Ġthe").
  std::optional<std::string> id_to_token(int64_t id) const;
  // One past the largest id (model vocabulary and added tokens).
  int64_t vocab_size() const;
  const std::vector<AddedToken>& added_tokens() const;
  bool is_special(int64_t id) const;

 private:
  struct Impl;
  explicit HfTokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace mstar::text
