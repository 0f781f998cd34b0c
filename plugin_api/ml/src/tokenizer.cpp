#include "mstar/ml/tokenizer.h"

#include <algorithm>
#include <map>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "tokenizer_bpe.h"

namespace mstar::ml {

namespace {

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Rust's char::is_ascii_punctuation, which the Hugging Face Punctuation
// pre-tokenizer uses for ASCII: all printable non-alphanumeric symbols.
bool is_punct(unsigned char c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

// Whitespace split, then each punctuation character isolated.
void split_plain(std::string_view text, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_space(c)) {
      ++i;
      continue;
    }
    if (is_punct(c)) {
      out.emplace_back(1, text[i]);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && !is_space(static_cast<unsigned char>(text[j])) &&
           !is_punct(static_cast<unsigned char>(text[j])))
      ++j;
    out.emplace_back(text.substr(i, j - i));
    i = j;
  }
}

Json added_token(int64_t id, const std::string& content) {
  return Json{{"id", id},           {"content", content}, {"single_word", false}, {"lstrip", false},
              {"rstrip", false},    {"normalized", false}, {"special", true}};
}

}  // namespace

const std::vector<std::string>& default_special_tokens() {
  static const std::vector<std::string> specials = {
      tokens::kPad,      tokens::kUnk,       tokens::kBos,    tokens::kEos,  tokens::kImage,
      tokens::kThink,    tokens::kThinkEnd,  tokens::kAnswer, tokens::kAnswerEnd,
      tokens::kSystem,   tokens::kUser,      tokens::kAssistant, tokens::kEnd};
  return specials;
}

Tokenizer::Tokenizer() : Tokenizer(default_special_tokens(), default_special_tokens()) {}

Tokenizer::Tokenizer(std::vector<std::string> tokens, std::vector<std::string> specials)
    : tokens_(std::move(tokens)), specials_(std::move(specials)) {
  index();
}

void Tokenizer::index() {
  ids_.clear();
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].empty()) throw_bad_input("tokenizer: empty token at id " + std::to_string(i));
    if (!ids_.emplace(tokens_[i], static_cast<int64_t>(i)).second)
      throw_bad_input("tokenizer: token '" + tokens_[i] + "' appears twice");
  }
  special_flags_.assign(tokens_.size(), false);
  for (const auto& s : specials_) {
    auto it = ids_.find(s);
    if (it == ids_.end()) throw_bad_input("tokenizer: special token '" + s + "' is not in the vocabulary");
    special_flags_[it->second] = true;
  }
  auto unk = ids_.find(tokens::kUnk);
  if (unk == ids_.end()) throw_bad_input(std::string("tokenizer: no ") + tokens::kUnk + " token");
  unk_id_ = unk->second;
  specials_by_length_ = specials_;
  std::stable_sort(specials_by_length_.begin(), specials_by_length_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

Tokenizer Tokenizer::build(const std::vector<std::string>& corpus, const VocabOptions& options) {
  std::vector<std::string> specials = default_special_tokens();
  for (const auto& s : options.extra_special)
    if (std::find(specials.begin(), specials.end(), s) == specials.end()) specials.push_back(s);
  Tokenizer counter(specials, specials);

  std::map<std::string, int64_t> counts;  // ordered: deterministic iteration
  for (const auto& text : corpus)
    for (auto& w : counter.split(text))
      if (!counter.find(w)) ++counts[w];

  std::vector<std::pair<std::string, int64_t>> ranked;
  for (const auto& w : options.always_include)
    if (!counter.find(w) && !w.empty()) counts[w] = std::max<int64_t>(counts[w], 0);
  for (auto& [w, n] : counts) ranked.emplace_back(w, n);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });

  std::vector<std::string> forced(options.always_include.begin(), options.always_include.end());
  std::sort(forced.begin(), forced.end());
  auto is_forced = [&](const std::string& w) { return std::binary_search(forced.begin(), forced.end(), w); };

  std::vector<std::string> vocab = specials;
  // Forced words first so that a size cap never drops them.
  for (const auto& [w, n] : ranked)
    if (is_forced(w)) vocab.push_back(w);
  for (const auto& [w, n] : ranked) {
    if (is_forced(w) || n < options.min_count) continue;
    if (options.max_size > 0 && static_cast<int64_t>(vocab.size()) >= options.max_size) break;
    vocab.push_back(w);
  }
  return Tokenizer(std::move(vocab), std::move(specials));
}

std::vector<std::string> Tokenizer::split(std::string_view text) const {
  std::vector<std::string> out;
  if (bpe_) {
    for (int64_t i : bpe_->hf.encode(text)) out.push_back(token(i));
    return out;
  }
  size_t start = 0;  // beginning of the plain text not yet split
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '<') {
      ++i;
      continue;
    }
    const std::string* hit = nullptr;
    for (const auto& s : specials_by_length_)
      if (text.compare(i, s.size(), s) == 0) {
        hit = &s;
        break;
      }
    if (!hit) {
      ++i;
      continue;
    }
    split_plain(text.substr(start, i - start), out);
    out.push_back(*hit);
    i += hit->size();
    start = i;
  }
  split_plain(text.substr(start), out);
  return out;
}

std::vector<int64_t> Tokenizer::encode(std::string_view text) const {
  if (bpe_) return bpe_->hf.encode(text);
  std::vector<int64_t> ids;
  for (const auto& w : split(text)) ids.push_back(id(w));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  if (bpe_) return bpe_->hf.decode(ids, skip_special);
  std::string out;
  for (int64_t i : ids) {
    if (skip_special && is_special(i)) continue;
    if (!out.empty()) out += ' ';
    out += token(i);
  }
  return out;
}

int64_t Tokenizer::id(std::string_view token) const {
  if (bpe_) return bpe_->hf.token_to_id(token).value_or(unk_id_);
  auto it = ids_.find(std::string(token));
  return it == ids_.end() ? unk_id_ : it->second;
}

std::optional<int64_t> Tokenizer::find(std::string_view token) const {
  if (bpe_) return bpe_->hf.token_to_id(token);
  auto it = ids_.find(std::string(token));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::token(int64_t id) const {
  if (id < 0 || id >= size())
    throw_bad_input("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(size()));
  return vocabulary()[static_cast<size_t>(id)];
}

int64_t Tokenizer::size() const { return static_cast<int64_t>(vocabulary().size()); }

const std::vector<std::string>& Tokenizer::vocabulary() const { return bpe_ ? bpe_->tokens : tokens_; }

bool Tokenizer::operator==(const Tokenizer& other) const {
  if (bpe_ || other.bpe_)
    return bpe_ && other.bpe_ && bpe_->file_text == other.bpe_->file_text && specials_ == other.specials_ &&
           roles_.pad == other.roles_.pad && roles_.eos == other.roles_.eos && roles_.bos == other.roles_.bos &&
           roles_.image == other.roles_.image;
  return tokens_ == other.tokens_ && specials_ == other.specials_;
}

bool Tokenizer::is_special(int64_t id) const {
  if (bpe_) return bpe_->hf.is_special(id);
  return id >= 0 && id < size() && special_flags_[static_cast<size_t>(id)];
}

Json Tokenizer::to_json() const {
  if (bpe_) return Json::parse(bpe_->file_text);
  Json added = Json::array();
  for (const auto& s : specials_) added.push_back(added_token(id(s), s));
  Json vocab = Json::object();
  for (size_t i = 0; i < tokens_.size(); ++i) vocab[tokens_[i]] = static_cast<int64_t>(i);
  return Json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers", Json::array({Json{{"type", "WhitespaceSplit"}},
                                       Json{{"type", "Punctuation"}, {"behavior", "Isolated"}}})}}},
      {"post_processor", nullptr},
      {"decoder", nullptr},
      {"model", {{"type", "WordLevel"}, {"vocab", vocab}, {"unk_token", tokens::kUnk}}},
  };
}

// A function-try-block: a field of the wrong type or a missing key deep in
// the file (nlohmann's type_error, out_of_range) is bad input too.
Tokenizer Tokenizer::from_json(const Json& json, const std::string& origin) try {
  auto fail = [&](const std::string& what) -> Tokenizer { throw_bad_input(origin + ": " + what); };
  if (!json.is_object() || !json.contains("model") || !json["model"].is_object())
    return fail("not a Hugging Face tokenizer.json (no \"model\" object)");
  const Json& model = json["model"];
  const std::string type = model.value("type", "");
  if (type == "BPE") return from_bpe_json(json, origin, {});
  if (type != "WordLevel") return fail("model type '" + type + "' is not supported (only WordLevel and BPE)");
  if (!model.contains("vocab") || !model["vocab"].is_object()) return fail("model.vocab is not an object");
  const std::string unk = model.value("unk_token", "");
  if (unk != tokens::kUnk) return fail("unk_token must be '" + std::string(tokens::kUnk) + "', got '" + unk + "'");
  const auto& pre = json.value("pre_tokenizer", Json());
  if (!pre.is_null() && pre.value("type", "") != "Sequence")
    return fail("pre_tokenizer '" + pre.value("type", "") + "' is not supported");

  const size_t n = model["vocab"].size();
  std::vector<std::string> tokens(n);
  for (const auto& [tok, idj] : model["vocab"].items()) {
    if (!idj.is_number_integer()) return fail("vocab id of '" + tok + "' is not an integer");
    const auto id = idj.get<int64_t>();
    if (id < 0 || static_cast<size_t>(id) >= n || !tokens[static_cast<size_t>(id)].empty())
      return fail("vocab ids are not dense 0.." + std::to_string(n - 1) + " (at '" + tok + "')");
    tokens[static_cast<size_t>(id)] = tok;
  }
  std::vector<std::pair<int64_t, std::string>> specials;
  for (const auto& a : json.value("added_tokens", Json::array())) {
    if (!a.value("special", false)) continue;
    const std::string content = a.at("content").get<std::string>();
    const int64_t id = a.at("id").get<int64_t>();
    if (id < 0 || static_cast<size_t>(id) >= n || tokens[static_cast<size_t>(id)] != content)
      return fail("added token '" + content + "' has id " + std::to_string(id) + " that disagrees with model.vocab");
    specials.emplace_back(id, content);
  }
  std::sort(specials.begin(), specials.end());
  std::vector<std::string> special_names;
  for (auto& [id, s] : specials) special_names.push_back(s);
  return Tokenizer(std::move(tokens), std::move(special_names));
} catch (const Json::exception& e) {
  throw_bad_input(origin + ": " + e.what());
}

Tokenizer Tokenizer::load(const std::filesystem::path& file) {
  Json j;
  try {
    j = Json::parse(read_file(file));
  } catch (const Json::exception& e) {
    throw_bad_input(file.string() + ": not valid JSON: " + e.what());
  }
  if (j.is_object() && j.contains("model") && j["model"].is_object() && j["model"].value("type", "") == "BPE")
    return from_bpe_json(j, file.string(), file.parent_path());
  return from_json(j, file.string());
}

void Tokenizer::save(const std::filesystem::path& file) const {
  if (bpe_) return save_bpe(file);
  write_file_atomic(file, to_json().dump(2));
}

}  // namespace mstar::ml
