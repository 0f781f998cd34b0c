// A word-level tokenizer with special tokens, stored as a Hugging Face
// tokenizer.json (WordLevel model, WhitespaceSplit + isolated punctuation
// pre-tokenizer, special tokens as added tokens), so that `tokenizers`
// outside mstar reads it and produces the same ids.
//
//   Tokenizer tok = Tokenizer::build(texts);          // vocab by frequency
//   std::vector<int64_t> ids = tok.encode("<think> A is red . </think>");
//   tok.save(dir / "tokenizer.json");
//
// Splitting: special tokens are cut out of the raw text first (anywhere,
// longest match), the rest is split on whitespace, and every ASCII
// punctuation character becomes a token of its own ("red." -> "red", ".").
// Bytes >= 0x80 count as word characters. Unknown words map to <unk>.
// decode() joins tokens with single spaces, as Hugging Face does for a
// WordLevel model without a decoder; encode(decode(ids)) == ids for ids
// without <unk>.
//
// A byte-level BPE tokenizer.json (model type "BPE": Qwen, GPT-2) loads as
// well: encode, decode, find and is_special then run on text::HfTokenizer
// (mstar/text/hf_tokenizer.h, `tokenizers`' ids), and the roles pad, eos,
// bos and image come from the checkpoint's files beside tokenizer.json
// (tokenizer_bpe.cpp says where from). Such a tokenizer is loaded, never
// built, and save() writes the file back unchanged with a
// tokenizer_config.json naming the roles.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mstar/json.h"

namespace mstar::ml {

// The special tokens every mstar tokenizer starts with, at these ids.
namespace tokens {
inline constexpr const char* kPad = "<pad>";
inline constexpr const char* kUnk = "<unk>";
inline constexpr const char* kBos = "<bos>";
inline constexpr const char* kEos = "<eos>";
inline constexpr const char* kImage = "<image>";
inline constexpr const char* kThink = "<think>";
inline constexpr const char* kThinkEnd = "</think>";
inline constexpr const char* kAnswer = "<answer>";
inline constexpr const char* kAnswerEnd = "</answer>";
// Chat roles: a turn is <role> ... <end>.
inline constexpr const char* kSystem = "<system>";
inline constexpr const char* kUser = "<user>";
inline constexpr const char* kAssistant = "<assistant>";
inline constexpr const char* kEnd = "<end>";
}  // namespace tokens

// In id order: <pad> = 0, <unk> = 1, ...
const std::vector<std::string>& default_special_tokens();

struct VocabOptions {
  int64_t min_count = 1;  // words seen fewer times are left out (-> <unk>)
  int64_t max_size = 0;   // total vocabulary size cap incl. specials; 0 = none
  std::vector<std::string> extra_special;  // appended after the defaults
  std::vector<std::string> always_include;  // words kept whatever their count
};

class Tokenizer {
 public:
  // Special tokens only.
  Tokenizer();

  // Vocabulary by descending frequency, ties broken by byte order: the same
  // corpus always gives the same ids.
  static Tokenizer build(const std::vector<std::string>& corpus, const VocabOptions& options = {});

  // Hugging Face tokenizer.json. Throws Error(BadInput) naming `origin` for a
  // model other than WordLevel, non-dense ids or a missing <unk>.
  static Tokenizer from_json(const Json& json, const std::string& origin = "tokenizer.json");
  // A BPE file takes its roles from the files in its directory.
  static Tokenizer load(const std::filesystem::path& file);
  Json to_json() const;
  void save(const std::filesystem::path& file) const;

  // Byte-level BPE (the Hugging Face families) rather than word-level.
  bool is_byte_level() const { return bpe_ != nullptr; }

  // The pre-tokenizer alone: words, punctuation and special tokens.
  std::vector<std::string> split(std::string_view text) const;
  std::vector<int64_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  int64_t size() const;
  // Id of a token; <unk> when absent (-1 for a BPE file without unk_token).
  int64_t id(std::string_view token) const;
  std::optional<int64_t> find(std::string_view token) const;
  // Throws Error(BadInput) for an id outside the vocabulary.
  const std::string& token(int64_t id) const;
  bool is_special(int64_t id) const;
  const std::vector<std::string>& special_tokens() const { return specials_; }
  const std::vector<std::string>& vocabulary() const;

  // Word-level: the tokens of mstar::ml::tokens. BPE: the checkpoint's
  // roles, -1 where it names none.
  int64_t pad_id() const { return bpe_ ? roles_.pad : id(tokens::kPad); }
  int64_t unk_id() const { return unk_id_; }
  int64_t bos_id() const { return bpe_ ? roles_.bos : id(tokens::kBos); }
  int64_t eos_id() const { return bpe_ ? roles_.eos : id(tokens::kEos); }
  int64_t image_id() const { return bpe_ ? roles_.image : id(tokens::kImage); }

  bool operator==(const Tokenizer& other) const;

 private:
  struct Bpe;  // tokenizer_bpe.cpp
  struct Roles {
    int64_t pad = -1, eos = -1, bos = -1, image = -1;
  };
  Tokenizer(std::vector<std::string> tokens, std::vector<std::string> specials);
  void index();
  // tokenizer_bpe.cpp: a BPE tokenizer.json, with its roles from `dir` ("" = none).
  static Tokenizer from_bpe_json(const Json& json, const std::string& origin, const std::filesystem::path& dir);
  void save_bpe(const std::filesystem::path& file) const;

  std::shared_ptr<const Bpe> bpe_;  // shared by copies: the vocabulary is large
  Roles roles_;

  std::vector<std::string> tokens_;    // id -> token
  std::vector<std::string> specials_;  // in id order
  std::vector<bool> special_flags_;    // id -> is special
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> specials_by_length_;  // longest first, for matching
  int64_t unk_id_ = 1;
};

}  // namespace mstar::ml
