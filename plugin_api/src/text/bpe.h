// The BPE model of a byte-level tokenizer.json: vocabulary, merges ranked by
// their order in the file, and the merge of one pre-token (private to
// libmstar_text).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mstar/json.h"

namespace mstar::text::detail {

// Transparent hashing: look up a std::string key with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenIds = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `model` is tokenizer.json's "model"; errors name `origin` and the key.
  BpeModel(const Json& model, const std::string& origin);

  // The ids of one pre-token, given as raw bytes (the byte-level mapping is
  // implied: symbol i starts as the token of byte i). Appends to `out`.
  void merge(std::string_view bytes, std::vector<int32_t>& out) const;

  const TokenIds& vocab() const { return vocab_; }
  // id -> token; "" for ids the vocabulary skips.
  const std::vector<std::string>& tokens() const { return tokens_; }

 private:
  struct Merge {
    uint64_t pair = 0;  // left id << 32 | right id
    int32_t rank = -1;  // -1 marks an empty slot
    int32_t merged = 0;  // id of the concatenation
  };
  const Merge* find_merge(int32_t left, int32_t right) const;
  void add_merge(int32_t left, int32_t right, int32_t rank, int32_t merged);

  TokenIds vocab_;
  std::vector<std::string> tokens_;
  std::vector<Merge> merges_;  // open addressing, a power of two in size
  uint64_t mask_ = 0;
  std::array<int32_t, 256> byte_ids_{};  // -1: not in the vocabulary
  std::optional<int32_t> unk_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

}  // namespace mstar::text::detail
