#include "bpe.h"

#include <algorithm>
#include <queue>

#include "mstar/error.h"
#include "unicode.h"

namespace mstar::text::detail {
namespace {

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// A merge as the file writes it: ["a", "b"] or "a b".
std::pair<std::string, std::string> merge_parts(const Json& entry, const std::string& key) {
  if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
    return {entry[0].get<std::string>(), entry[1].get<std::string>()};
  }
  if (entry.is_string()) {
    const auto s = entry.get<std::string>();
    const size_t space = s.find(' ');
    if (space != std::string::npos && space > 0 && space + 1 < s.size() && s.find(' ', space + 1) == std::string::npos) {
      return {s.substr(0, space), s.substr(space + 1)};
    }
  }
  throw_bad_input(key + ": expected a pair of tokens, [\"a\", \"b\"] or \"a b\", got " + entry.dump());
}

}  // namespace

BpeModel::BpeModel(const Json& model, const std::string& origin) {
  const auto key = [&](const std::string& k) { return origin + ": model." + k; };
  for (const char* unsupported : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(unsupported) && !model[unsupported].is_null() && model[unsupported] != "") {
      throw_bad_input(key(unsupported) + " is not supported (a byte-level BPE has none)");
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0.0) {
    throw_bad_input(key("dropout") + " is not supported: encoding must be deterministic");
  }
  if (model.value("byte_fallback", false)) throw_bad_input(key("byte_fallback") + " is not supported");
  ignore_merges_ = model.value("ignore_merges", false);
  fuse_unk_ = model.value("fuse_unk", false);

  const Json* vocab = model.contains("vocab") ? &model["vocab"] : nullptr;
  if (!vocab || !vocab->is_object()) throw_bad_input(key("vocab") + ": expected an object of token: id");
  vocab_.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 30)) {
      throw_bad_input(key("vocab") + "[\"" + token + "\"]: expected an id >= 0, got " + id.dump());
    }
    const auto i = id.get<int32_t>();
    vocab_.emplace(token, i);
    if (static_cast<size_t>(i) >= tokens_.size()) tokens_.resize(static_cast<size_t>(i) + 1);
    tokens_[static_cast<size_t>(i)] = token;
  }
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    const auto unk = model["unk_token"].get<std::string>();
    const auto it = vocab_.find(unk);
    if (it == vocab_.end()) throw_bad_input(key("unk_token") + ": \"" + unk + "\" is not in the vocabulary");
    unk_ = it->second;
  }
  const auto& chars = byte_level_chars();
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(chars[b]);
    byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
  }

  const Json* merges = model.contains("merges") ? &model["merges"] : nullptr;
  if (!merges || !merges->is_array()) throw_bad_input(key("merges") + ": expected a list");
  size_t slots = 16;
  while (slots < merges->size() * 2) slots *= 2;
  merges_.assign(slots, Merge{});
  mask_ = slots - 1;
  int32_t rank = 0;
  for (const auto& entry : *merges) {
    const std::string where = key("merges") + "[" + std::to_string(rank) + "]";
    const auto [a, b] = merge_parts(entry, where);
    const auto ia = vocab_.find(a), ib = vocab_.find(b), iab = vocab_.find(a + b);
    if (ia == vocab_.end() || ib == vocab_.end()) {
      throw_bad_input(where + ": \"" + (ia == vocab_.end() ? a : b) + "\" is not in the vocabulary");
    }
    if (iab == vocab_.end()) throw_bad_input(where + ": the merged token \"" + a + b + "\" is not in the vocabulary");
    add_merge(ia->second, ib->second, rank++, iab->second);
  }
}

void BpeModel::add_merge(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  const uint64_t pair = pair_key(left, right);
  for (uint64_t slot = mix(pair) & mask_;; slot = (slot + 1) & mask_) {
    Merge& m = merges_[slot];
    if (m.rank < 0) {
      m = Merge{pair, rank, merged};
      return;
    }
    if (m.pair == pair) {  // a repeated merge takes its last rank, as `tokenizers`' map does
      m = Merge{pair, rank, merged};
      return;
    }
  }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t pair = pair_key(left, right);
  for (uint64_t slot = mix(pair) & mask_;; slot = (slot + 1) & mask_) {
    const Merge& m = merges_[slot];
    if (m.rank < 0) return nullptr;
    if (m.pair == pair) return &m;
  }
}

void BpeModel::merge(std::string_view bytes, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    std::string level;
    for (char c : bytes) level += byte_level_chars()[static_cast<unsigned char>(c)];
    if (const auto it = vocab_.find(level); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // The symbols of the word as a linked list over a vector, as in
  // `tokenizers`' Word::merge_all: a heap of candidate merges, lowest rank
  // first and leftmost on ties; a candidate whose symbols changed since it
  // was queued is dropped when it comes up.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(bytes.size());
  bool pending_unk = false;
  for (char c : bytes) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
    if (id < 0) {
      if (!unk_ || (fuse_unk_ && pending_unk)) continue;
      pending_unk = true;
      symbols.push_back({*unk_, 0, 0, true});
      continue;
    }
    pending_unk = false;
    symbols.push_back({id, 0, 0, true});
  }
  const auto n = static_cast<int32_t>(symbols.size());
  for (int32_t i = 0; i < n; ++i) symbols[i].prev = i - 1, symbols[i].next = i + 1 < n ? i + 1 : -1;

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t merged;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* m = find_merge(symbols[pos].id, symbols[next].id)) queue.push({m->rank, pos, m->merged});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merge* m = find_merge(left.id, right.id);
    if (!m || m->merged != top.merged) continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace mstar::text::detail
