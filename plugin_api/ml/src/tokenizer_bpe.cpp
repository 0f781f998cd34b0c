// ml::Tokenizer on a byte-level BPE tokenizer.json (text::HfTokenizer), and
// the roles of its special tokens. A Hugging Face checkpoint spreads those
// over several files; the first that names a role wins:
//
//   pad    tokenizer_config.json pad_token, generation_config.json
//          pad_token_id, config.json pad_token_id, else eos
//   eos    tokenizer_config.json eos_token, generation_config.json
//          eos_token_id (the first of a list), config.json eos_token_id
//   bos    tokenizer_config.json bos_token, generation_config.json
//          bos_token_id, config.json bos_token_id
//   image  config.json image_token_id, else the token <|image_pad|>
//
// (transformers' tokenizer takes pad and eos from tokenizer_config.json;
// generate() falls back to generation_config.json; a null names nothing.)
// For Qwen2.5-VL that gives <|endoftext|> pad, <|im_end|> eos,
// <|endoftext|> bos (generation_config.json) and <|image_pad|>.
#include <filesystem>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "tokenizer_bpe.h"

namespace mstar::ml {

namespace fs = std::filesystem;

namespace {

Json read_json_if_exists(const fs::path& file) {
  if (file.empty() || !fs::exists(file)) return Json::object();
  try {
    Json j = Json::parse(read_file(file));
    if (!j.is_object()) throw_bad_input(file.string() + ": expected a JSON object");
    return j;
  } catch (const Json::exception& e) {
    throw_bad_input(file.string() + ": not valid JSON: " + e.what());
  }
}

// A token named by tokenizer_config.json: a string, {"content": ...} or null.
std::optional<int64_t> named_token(const text::HfTokenizer& hf, const Json& config, const char* key,
                                   const fs::path& file) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const Json& v = config[key];
  std::string token;
  if (v.is_string()) token = v.get<std::string>();
  else if (v.is_object() && v.contains("content") && v["content"].is_string()) token = v["content"].get<std::string>();
  else throw_bad_input(file.string() + ": \"" + key + "\" must be a token string or {\"content\": ...}");
  auto id = hf.token_to_id(token);
  if (!id) throw_bad_input(file.string() + ": \"" + key + "\" names '" + token + "', which tokenizer.json lacks");
  return id;
}

// An id (or the first of a list) from generation_config.json or config.json;
// config.json's may sit under text_config (transformers 5's layout).
std::optional<int64_t> named_id(const Json& config, const char* key, const fs::path& file) {
  const Json* v = nullptr;
  if (config.contains(key)) v = &config[key];
  else if (config.contains("text_config") && config["text_config"].is_object() && config["text_config"].contains(key))
    v = &config["text_config"][key];
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_array() && !v->empty()) v = &(*v)[0];
  if (!v->is_number_integer() || v->get<int64_t>() < 0)
    throw_bad_input(file.string() + ": \"" + key + "\" must be a token id or a list of them");
  return v->get<int64_t>();
}

}  // namespace

Tokenizer Tokenizer::from_bpe_json(const Json& json, const std::string& origin, const fs::path& dir) {
  auto bpe = std::make_shared<Bpe>(Bpe{text::HfTokenizer::from_json(json, origin), json.dump(), Json::object(), {}});
  const text::HfTokenizer& hf = bpe->hf;
  bpe->tokens.resize(static_cast<size_t>(hf.vocab_size()));
  for (int64_t i = 0; i < hf.vocab_size(); ++i)
    if (auto t = hf.id_to_token(i)) bpe->tokens[static_cast<size_t>(i)] = std::move(*t);

  Tokenizer out;
  out.tokens_.clear();
  out.ids_.clear();
  out.special_flags_.clear();
  out.specials_.clear();
  out.specials_by_length_.clear();
  for (const auto& a : hf.added_tokens())
    if (a.special) out.specials_.push_back(a.content);
  const Json& model = json["model"];
  out.unk_id_ = -1;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    out.unk_id_ = hf.token_to_id(model["unk_token"].get<std::string>()).value_or(-1);

  const fs::path tc_file = dir.empty() ? fs::path() : dir / "tokenizer_config.json";
  const fs::path gen_file = dir.empty() ? fs::path() : dir / "generation_config.json";
  const fs::path cfg_file = dir.empty() ? fs::path() : dir / "config.json";
  bpe->config = read_json_if_exists(tc_file);
  const Json gen = read_json_if_exists(gen_file);
  const Json cfg = read_json_if_exists(cfg_file);
  auto role = [&](const char* token_key, const char* id_key) -> int64_t {
    if (auto t = named_token(hf, bpe->config, token_key, tc_file)) return *t;
    if (auto t = named_id(gen, id_key, gen_file)) return *t;
    if (auto t = named_id(cfg, id_key, cfg_file)) return *t;
    return -1;
  };
  out.roles_.eos = role("eos_token", "eos_token_id");
  out.roles_.bos = role("bos_token", "bos_token_id");
  out.roles_.pad = role("pad_token", "pad_token_id");
  if (out.roles_.pad < 0) out.roles_.pad = out.roles_.eos;
  if (auto t = named_id(cfg, "image_token_id", cfg_file)) out.roles_.image = *t;
  else out.roles_.image = hf.token_to_id("<|image_pad|>").value_or(-1);
  for (int64_t id : {out.roles_.pad, out.roles_.eos, out.roles_.bos, out.roles_.image})
    if (id >= hf.vocab_size())
      throw_bad_input(origin + ": a special-token id from " + dir.string() + " (" + std::to_string(id) +
                      ") is outside the vocabulary of " + std::to_string(hf.vocab_size()));
  out.bpe_ = std::move(bpe);
  return out;
}

void Tokenizer::save_bpe(const fs::path& file) const {
  // The roles go into tokenizer_config.json so that load() finds the same ones
  // (and transformers' AutoTokenizer reads them too).
  Json config = bpe_->config;
  auto name = [&](const char* key, int64_t id) {
    if (id >= 0) config[key] = token(id);
    else if (config.contains(key)) config[key] = nullptr;
  };
  name("pad_token", roles_.pad);
  name("eos_token", roles_.eos);
  name("bos_token", roles_.bos);
  write_file_atomic(file, bpe_->file_text);
  write_file_atomic(file.parent_path() / "tokenizer_config.json", config.dump(2));
}

}  // namespace mstar::ml
