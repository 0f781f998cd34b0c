#include "mstar/text/hf_tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <unordered_map>

#include "added_tokens.h"
#include "bpe.h"
#include "mstar/error.h"
#include "split_regex.h"
#include "unicode.h"

namespace mstar::text {

using detail::AddedTokenMatcher;
using detail::BpeModel;
using detail::SplitRegex;

namespace {

// GPT-2's pattern, which a ByteLevel pre-tokenizer with use_regex applies.
constexpr std::string_view kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Words this long or longer are merged every time, not cached (the cache
// would fill with one-off strings); `tokenizers` has the same limit.
constexpr size_t kMaxCachedWord = 256;
constexpr size_t kCacheCapacity = 100000;

std::string type_of(const Json& j) { return j.is_object() && j.contains("type") ? j["type"].dump() : j.dump(); }

// A String split pattern as a regex that matches it literally.
std::string literal_pattern(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c))) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

struct HfTokenizer::Impl {
  explicit Impl(const Json& json, const std::string& origin);

  void pre_tokenize(std::string_view text, size_t step, std::vector<int32_t>& ids) const;
  void word_ids(std::string_view word, std::vector<int32_t>& ids) const;

  BpeModel model;
  std::vector<AddedToken> added;  // as in the file
  AddedTokenMatcher raw_matcher;         // normalized=false tokens, matched before the normaliser
  AddedTokenMatcher normalized_matcher;  // normalized=true tokens, matched after it
  bool nfc = false;
  std::vector<SplitRegex> splits;  // applied in order; the last step is byte-level
  bool byte_level_decoder = false;

  struct Entry {
    std::string token;  // as stored ("Ġthe", "<|im_end|>")
    std::string bytes;  // what the decoder makes of it
    bool exists = false;
    bool special = false;
  };
  std::vector<Entry> entries;  // by id

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>, detail::StringHash, std::equal_to<>> cache;
};

HfTokenizer::Impl::Impl(const Json& json, const std::string& origin) : model(json.at("model"), origin) {
  const auto fail = [&](const std::string& key, const std::string& what) { throw_bad_input(origin + ": " + key + ": " + what); };
  static const std::set<std::string> kKnown = {"version", "truncation", "padding", "added_tokens", "normalizer",
                                               "pre_tokenizer", "post_processor", "decoder", "model"};
  for (const auto& [key, value] : json.items()) {
    if (!kKnown.count(key)) fail(key, "unknown key; this reader knows " + Json(kKnown).dump());
  }
  for (const char* key : {"truncation", "padding"}) {
    if (json.contains(key) && !json[key].is_null()) fail(key, "is not supported (must be null): mstar pads and truncates itself");
  }
  if (const Json& m = json["model"]; m.contains("type") && m["type"] != "BPE") {
    fail("model.type", m["type"].dump() + " is not supported (only BPE)");
  }

  // Normaliser.
  const Json normalizer = json.value("normalizer", Json());
  const auto read_normalizer = [&](const Json& n, const std::string& key) {
    if (n.value("type", "") != "NFC") fail(key + ".type", type_of(n) + " is not supported (NFC or a Sequence of NFC)");
    nfc = true;
  };
  if (normalizer.is_object() && normalizer.value("type", "") == "Sequence") {
    const Json& list = normalizer.value("normalizers", Json::array());
    for (size_t i = 0; i < list.size(); ++i) read_normalizer(list[i], "normalizer.normalizers[" + std::to_string(i) + "]");
  } else if (!normalizer.is_null()) {
    read_normalizer(normalizer, "normalizer");
  }

  // Pre-tokenizer: Split steps, then ByteLevel.
  const Json pre = json.value("pre_tokenizer", Json());
  std::vector<std::pair<Json, std::string>> steps;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    const Json& list = pre.value("pretokenizers", Json::array());
    for (size_t i = 0; i < list.size(); ++i) steps.emplace_back(list[i], "pre_tokenizer.pretokenizers[" + std::to_string(i) + "]");
  } else if (!pre.is_null()) {
    steps.emplace_back(pre, "pre_tokenizer");
  }
  if (steps.empty() || steps.back().first.value("type", "") != "ByteLevel") {
    fail("pre_tokenizer", "a byte-level BPE needs a ByteLevel pre-tokenizer as its last step; got " + pre.dump());
  }
  for (const auto& [step, key] : steps) {
    const std::string type = step.value("type", "");
    if (type == "ByteLevel") {
      if (&step != &steps.back().first) fail(key, "ByteLevel must be the last pre-tokenizer step");
      if (step.value("add_prefix_space", false)) fail(key + ".add_prefix_space", "true is not supported");
      if (step.value("use_regex", true)) splits.emplace_back(kByteLevelPattern, key);
      continue;
    }
    if (type != "Split") fail(key + ".type", type_of(step) + " is not supported (Split, ByteLevel or a Sequence of those)");
    if (step.value("behavior", "") != "Isolated") {
      fail(key + ".behavior", step.value("behavior", Json()).dump() + " is not supported (only \"Isolated\")");
    }
    if (step.value("invert", false)) fail(key + ".invert", "true is not supported");
    const Json pattern = step.value("pattern", Json());
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      splits.emplace_back(pattern["Regex"].get<std::string>(), origin + ": " + key + ".pattern.Regex");
    } else if (pattern.contains("String") && pattern["String"].is_string() && !pattern["String"].get<std::string>().empty()) {
      splits.emplace_back(literal_pattern(pattern["String"].get<std::string>()), origin + ": " + key + ".pattern.String");
    } else {
      fail(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}, got " + pattern.dump());
    }
  }

  if (const Json post = json.value("post_processor", Json()); !post.is_null() && post.value("type", "") != "ByteLevel") {
    fail("post_processor.type", type_of(post) + " is not supported (null or ByteLevel, which changes no ids)");
  }
  const Json decoder = json.value("decoder", Json());
  if (!decoder.is_null() && decoder.value("type", "") != "ByteLevel") {
    fail("decoder.type", type_of(decoder) + " is not supported (ByteLevel or null)");
  }
  byte_level_decoder = !decoder.is_null();

  // Added tokens.
  const Json list = json.value("added_tokens", Json::array());
  if (!list.is_array()) fail("added_tokens", "expected a list");
  added.reserve(list.size());  // the matchers point into it
  // Ids as `tokenizers` gives them when it reads the file: a content the
  // model's vocabulary holds keeps the model's id, a new one gets the next
  // free id after the vocabulary, whatever the file says. Files that
  // `tokenizers` wrote agree with it; a hand-edited one may not.
  const auto model_size = static_cast<int64_t>(model.vocab().size());
  std::optional<int64_t> max_added;
  const auto added_token_id = [&](const AddedToken& token) {
    int64_t id = 0;
    if (const auto same = std::find_if(added.begin(), added.end(), [&](const AddedToken& a) { return a.content == token.content; });
        same != added.end()) {
      id = same->id;
    } else if (const auto it = model.vocab().find(token.content); it != model.vocab().end()) {
      id = it->second;
    } else if (!max_added) {
      id = model_size;
    } else {
      id = *max_added >= model_size || model_size == 0 ? *max_added + 1 : model_size;
    }
    max_added = std::max(max_added.value_or(id), id);
    return id;
  };
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& t = list[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || t["id"].get<int64_t>() < 0 ||
        !t.contains("content") || !t["content"].is_string()) {
      fail(key, "expected {\"id\": N >= 0, \"content\": \"...\", ...}, got " + t.dump());
    }
    AddedToken token;
    token.content = t["content"].get<std::string>();
    if (const size_t bad = detail::invalid_utf8_at(token.content); bad != detail::kValidUtf8) {
      fail(key + ".content", "is not valid UTF-8");
    }
    token.single_word = t.value("single_word", false);
    token.lstrip = t.value("lstrip", false);
    token.rstrip = t.value("rstrip", false);
    token.normalized = t.value("normalized", true);
    token.special = t.value("special", false);
    if (token.content.empty()) continue;  // `tokenizers` ignores it
    token.id = added_token_id(token);
    if (auto same = std::find_if(added.begin(), added.end(), [&](const AddedToken& a) { return a.content == token.content; });
        same != added.end()) {
      *same = std::move(token);  // a repeated content keeps its id and takes the later flags
      continue;
    }
    added.push_back(std::move(token));
  }
  for (const AddedToken& token : added) {
    if (token.normalized) {
      normalized_matcher.add(token, nfc ? detail::nfc(token.content) : token.content);
    } else {
      raw_matcher.add(token, token.content);
    }
  }

  // The id table: the model's tokens, then the added ones over them.
  const auto& tokens = model.tokens();
  int64_t size = static_cast<int64_t>(tokens.size());
  for (const AddedToken& token : added) size = std::max(size, token.id + 1);
  entries.resize(static_cast<size_t>(size));
  for (const auto& [token, id] : model.vocab()) {
    entries[static_cast<size_t>(id)].token = token;
    entries[static_cast<size_t>(id)].exists = true;
  }
  std::set<std::string> specials;
  for (const AddedToken& token : added) {
    entries[static_cast<size_t>(token.id)].token = token.content;
    entries[static_cast<size_t>(token.id)].exists = true;
    if (token.special) specials.insert(token.content);
  }
  for (Entry& e : entries) {
    if (!e.exists) continue;
    e.special = specials.count(e.token) > 0;
    if (!byte_level_decoder) continue;
    // A token whose characters are all byte-level ones decodes to those
    // bytes; any other (an added "<|im_end|>" is all byte-level too) to its
    // own UTF-8, as `tokenizers`' ByteLevel decoder does.
    std::string bytes;
    bool all = true;
    for (size_t at = 0; at < e.token.size() && all;) {
      const int b = detail::byte_of_level_char(detail::next_code_point(e.token, at));
      all = b >= 0;
      bytes += static_cast<char>(b);
    }
    e.bytes = all ? bytes : e.token;
  }
}

void HfTokenizer::Impl::word_ids(std::string_view word, std::vector<int32_t>& ids) const {
  const bool cacheable = word.size() < kMaxCachedWord;
  if (cacheable) {
    std::lock_guard lock(cache_mutex);
    if (const auto it = cache.find(word); it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = ids.size();
  model.merge(word, ids);
  if (!cacheable) return;
  std::lock_guard lock(cache_mutex);
  if (cache.size() < kCacheCapacity) cache.emplace(std::string(word), std::vector<int32_t>(ids.begin() + before, ids.end()));
}

void HfTokenizer::Impl::pre_tokenize(std::string_view text, size_t step, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  if (step == splits.size()) {
    word_ids(text, ids);
    return;
  }
  splits[step].split(text, [&](std::string_view piece) { pre_tokenize(piece, step + 1, ids); });
}

HfTokenizer::HfTokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

HfTokenizer HfTokenizer::from_json(const Json& json, const std::string& origin) {
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object()) {
    throw_bad_input(origin + ": model: expected an object (a Hugging Face tokenizer.json)");
  }
  try {
    return HfTokenizer(std::make_shared<const Impl>(json, origin));
  } catch (const Json::exception& e) {
    // A value of the wrong JSON type somewhere the checks above did not look.
    throw_bad_input(origin + ": unexpected value: " + e.what());
  }
}

HfTokenizer HfTokenizer::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw_io("cannot open " + file.string());
  Json json;
  try {
    json = Json::parse(in);
  } catch (const Json::exception& e) {
    throw_bad_input(file.string() + ": not valid JSON: " + e.what());
  }
  return from_json(json, file.string());
}

std::vector<int64_t> HfTokenizer::encode(std::string_view text) const {
  if (const size_t bad = detail::invalid_utf8_at(text); bad != detail::kValidUtf8) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[bad]));
    throw_bad_input("text to encode is not valid UTF-8: byte " + std::string(byte) + " at offset " +
                    std::to_string(bad) + " does not start a well-formed character");
  }
  const Impl& impl = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl.raw_matcher.split(text, [&](std::string_view piece, const AddedToken* token) {
    if (token) {
      ids.push_back(static_cast<int32_t>(token->id));
      return;
    }
    std::string normalized;
    std::string_view view = piece;
    if (impl.nfc && !detail::is_ascii(piece)) {
      normalized = detail::nfc(piece);
      view = normalized;
    }
    impl.normalized_matcher.split(view, [&](std::string_view part, const AddedToken* inner) {
      if (inner) {
        ids.push_back(static_cast<int32_t>(inner->id));
        return;
      }
      impl.pre_tokenize(part, 0, ids);
    });
  });
  return {ids.begin(), ids.end()};
}

std::string HfTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  const auto& entries = impl_->entries;
  std::string out;
  bool first = true;
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(entries.size())) continue;
    const Impl::Entry& e = entries[static_cast<size_t>(id)];
    if (!e.exists || (skip_special_tokens && e.special)) continue;
    if (impl_->byte_level_decoder) {
      out += e.bytes;
      continue;
    }
    if (!first) out += ' ';  // `tokenizers` joins tokens with spaces when there is no decoder
    out += e.token;
    first = false;
  }
  return impl_->byte_level_decoder ? detail::utf8_lossy(out) : out;
}

std::optional<int64_t> HfTokenizer::token_to_id(std::string_view token) const {
  for (const AddedToken& t : impl_->added) {
    if (t.content == token) return t.id;
  }
  const auto& vocab = impl_->model.vocab();
  if (const auto it = vocab.find(token); it != vocab.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> HfTokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= vocab_size() || !impl_->entries[static_cast<size_t>(id)].exists) return std::nullopt;
  return impl_->entries[static_cast<size_t>(id)].token;
}

int64_t HfTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->entries.size()); }
const std::vector<AddedToken>& HfTokenizer::added_tokens() const { return impl_->added; }
bool HfTokenizer::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size() && impl_->entries[static_cast<size_t>(id)].special;
}

}  // namespace mstar::text
