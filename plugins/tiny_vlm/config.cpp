// Options of tiny_vlm: defaults, validation, presets, JSON (config.json) and
// parameter counts from dims alone.
#include <cmath>

#include "mstar/error.h"
#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t swiglu_width(int64_t hidden) { return round_up((8 * hidden + 2) / 3, 8); }

template <class T>
T required(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw_bad_input(where + ": missing \"" + std::string(key) + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const Json::exception&) {
    throw_bad_input(where + ": \"" + std::string(key) + "\" has the wrong type (" + j.at(key).dump() + ")");
  }
}

template <class T>
T optional(const Json& j, const char* key, T fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  return required<T>(j, key, where);
}

}  // namespace

std::string to_string(Family family) { return family == Family::Qwen ? "qwen" : "llava"; }

Family family_from_string(const std::string& name) {
  if (name == "qwen") return Family::Qwen;
  if (name == "llava") return Family::Llava;
  throw_bad_input("tiny_vlm: unknown family '" + name + "' (expected qwen or llava)");
}

int64_t vision_intermediate(const TinyVlmOptions& o) {
  if (o.vision().intermediate() > 0) return o.vision().intermediate();
  return o.family() == Family::Qwen ? swiglu_width(o.vision().hidden()) : 4 * o.vision().hidden();
}

int64_t text_intermediate(const TinyVlmOptions& o) {
  return o.text().intermediate() > 0 ? o.text().intermediate() : swiglu_width(o.text().hidden());
}

int64_t kv_heads(const TinyVlmOptions& o) { return o.text().kv_heads() > 0 ? o.text().kv_heads() : o.text().heads(); }

int64_t patches_per_side(const TinyVlmOptions& o) { return o.image_size() / o.patch_size(); }

int64_t image_token_count(const TinyVlmOptions& o) {
  const int64_t g = patches_per_side(o);
  if (o.family() == Family::Qwen) return (g / o.merge_size()) * (g / o.merge_size());
  return g * g;
}

void validate(const TinyVlmOptions& o) {
  auto fail = [](const std::string& m) { throw_bad_input("tiny_vlm: " + m); };
  const auto& v = o.vision();
  const auto& t = o.text();
  if (v.hidden() < 1 || v.layers() < 1 || v.heads() < 1) fail("vision hidden, layers and heads must be >= 1");
  if (t.hidden() < 1 || t.layers() < 1 || t.heads() < 1) fail("text hidden, layers and heads must be >= 1");
  if (v.hidden() % v.heads()) fail("vision hidden " + std::to_string(v.hidden()) + " is not a multiple of its heads " + std::to_string(v.heads()));
  if (t.hidden() % t.heads()) fail("text hidden " + std::to_string(t.hidden()) + " is not a multiple of its heads " + std::to_string(t.heads()));
  if ((t.hidden() / t.heads()) % 2) fail("text head size must be even (rotary embedding)");
  if (o.family() == Family::Qwen && (v.hidden() / v.heads()) % 4)
    fail("vision head size must be a multiple of 4 (2D rotary embedding)");
  if (kv_heads(o) < 1 || t.heads() % kv_heads(o)) fail("text heads " + std::to_string(t.heads()) + " are not a multiple of kv_heads " + std::to_string(kv_heads(o)));
  if (o.patch_size() < 1 || o.image_size() % o.patch_size())
    fail("image_size " + std::to_string(o.image_size()) + " is not a multiple of patch_size " + std::to_string(o.patch_size()));
  if (o.family() == Family::Qwen && (o.merge_size() < 1 || patches_per_side(o) % o.merge_size()))
    fail("patches per side " + std::to_string(patches_per_side(o)) + " is not a multiple of merge_size " + std::to_string(o.merge_size()));
  if (o.image_token_id() < 0 || o.image_token_id() >= t.vocab_size()) fail("image_token_id outside the vocabulary");
  if (t.max_positions() < 2) fail("max_positions must be >= 2");
}

Json to_json(const TinyVlmOptions& o) {
  const auto& v = o.vision();
  const auto& t = o.text();
  Json j = {
      {"model_type", "tiny_vlm"},
      {"family", to_string(o.family())},
      {"image_size", o.image_size()},
      {"patch_size", o.patch_size()},
      {"image_token_id", o.image_token_id()},
      {"calibration_seed", o.calibration_seed()},
      {"vision_config",
       {{"hidden_size", v.hidden()},
        {"num_hidden_layers", v.layers()},
        {"num_attention_heads", v.heads()},
        {"intermediate_size", vision_intermediate(o)},
        {"rope_theta", v.rope_theta()},
        {"norm_eps", v.norm_eps()}}},
      {"text_config",
       {{"vocab_size", t.vocab_size()},
        {"hidden_size", t.hidden()},
        {"num_hidden_layers", t.layers()},
        {"num_attention_heads", t.heads()},
        {"num_key_value_heads", kv_heads(o)},
        {"intermediate_size", text_intermediate(o)},
        {"max_position_embeddings", t.max_positions()},
        {"rope_theta", t.rope_theta()},
        {"rms_norm_eps", t.norm_eps()},
        {"tie_word_embeddings", t.tie_embeddings()},
        {"embed_std", t.embed_std() > 0 ? t.embed_std() : 1.0 / std::sqrt(static_cast<double>(t.hidden()))},
        {"scale_embeddings", t.scale_embeddings()}}},
  };
  if (o.family() == Family::Qwen) j["merge_size"] = o.merge_size();
  return j;
}

TinyVlmOptions options_from_json(const Json& c) {
  const std::string where = "tiny_vlm config";
  const Json vj = c.value("vision_config", Json::object());
  const Json tj = c.value("text_config", Json::object());
  const std::string vw = where + ".vision_config", tw = where + ".text_config";
  const Family family = family_from_string(required<std::string>(c, "family", where));
  // A preset "size" supplies every dim not given explicitly.
  const bool sized = c.contains("size");
  TinyVlmOptions base = sized ? preset(family, required<std::string>(c, "size", where), required<int64_t>(tj, "vocab_size", tw))
                              : TinyVlmOptions(family, VisionOptions(0, 0, 0), TextOptions(0, 0, 0, 0));
  auto vint = [&](const char* key, int64_t preset_value) {
    return sized ? optional<int64_t>(vj, key, preset_value, vw) : required<int64_t>(vj, key, vw);
  };
  auto tint = [&](const char* key, int64_t preset_value) {
    return sized ? optional<int64_t>(tj, key, preset_value, tw) : required<int64_t>(tj, key, tw);
  };
  VisionOptions v(vint("hidden_size", base.vision().hidden()), vint("num_hidden_layers", base.vision().layers()),
                  vint("num_attention_heads", base.vision().heads()));
  v.intermediate(optional<int64_t>(vj, "intermediate_size", 0, vw))
      .rope_theta(optional<double>(vj, "rope_theta", 10000.0, vw))
      .norm_eps(optional<double>(vj, "norm_eps", 1e-6, vw));
  TextOptions t(required<int64_t>(tj, "vocab_size", tw), tint("hidden_size", base.text().hidden()),
                tint("num_hidden_layers", base.text().layers()), tint("num_attention_heads", base.text().heads()));
  t.kv_heads(optional<int64_t>(tj, "num_key_value_heads", base.text().kv_heads(), tw))
      .intermediate(optional<int64_t>(tj, "intermediate_size", 0, tw))
      .max_positions(optional<int64_t>(tj, "max_position_embeddings", 1024, tw))
      .rope_theta(optional<double>(tj, "rope_theta", 10000.0, tw))
      .norm_eps(optional<double>(tj, "rms_norm_eps", 1e-6, tw))
      .tie_embeddings(optional<bool>(tj, "tie_word_embeddings", true, tw))
      .embed_std(optional<double>(tj, "embed_std", 0.0, tw))
      .scale_embeddings(optional<bool>(tj, "scale_embeddings", true, tw));
  TinyVlmOptions o(family, v, t);
  o.image_size(optional<int64_t>(c, "image_size", 64, where))
      .patch_size(optional<int64_t>(c, "patch_size", 8, where))
      .merge_size(optional<int64_t>(c, "merge_size", 2, where))
      .image_token_id(optional<int64_t>(c, "image_token_id", 4, where))
      .calibration_seed(optional<uint64_t>(c, "calibration_seed", 0x5eed, where));
  validate(o);
  return o;
}

ParamCounts count_parameters(const TinyVlmOptions& o) {
  const auto& v = o.vision();
  const auto& t = o.text();
  const int64_t p = o.patch_size(), vd = v.hidden(), vf = vision_intermediate(o);
  const int64_t td = t.hidden(), tf = text_intermediate(o), hd = td / t.heads(), kv = kv_heads(o);
  const int64_t n = patches_per_side(o) * patches_per_side(o);
  ParamCounts c;
  const int64_t vision_attn = vd * 3 * vd + 3 * vd + vd * vd + vd;  // qkv and out, with biases
  if (o.family() == Family::Qwen) {
    const int64_t block = 2 * vd + vision_attn + (vd * 2 * vf + 2 * vf) + (vf * vd + vd);
    c.vision = 3 * p * p * vd + v.layers() * block;
    const int64_t w = vd * o.merge_size() * o.merge_size();
    c.projector = vd + (w * w + w) + (w * td + td);
  } else {
    const int64_t layer = 4 * vd + vision_attn + (vd * vf + vf) + (vf * vd + vd);
    c.vision = 3 * p * p * vd + vd + (n + 1) * vd + 2 * vd + v.layers() * layer;
    c.projector = (vd * td + td) + (td * td + td);
  }
  const int64_t qkv_out = (t.heads() + 2 * kv) * hd;
  const int64_t layer = 2 * td + (td * qkv_out + qkv_out) + t.heads() * hd * td + td * 2 * tf + tf * td;
  c.language = t.vocab_size() * td + t.layers() * layer + td + (t.tie_embeddings() ? 0 : t.vocab_size() * td);
  return c;
}

TinyVlmOptions preset(Family family, const std::string& size, int64_t vocab_size) {
  struct Dims {
    int64_t vision_hidden, vision_layers, vision_heads, hidden, layers, heads, kv_heads;
  };
  Dims d{};
  if (size == "S") d = {64, 3, 4, 64, 4, 4, 2};
  else if (size == "M") d = {128, 6, 4, 128, 6, 4, 2};
  else if (size == "L") d = {256, 6, 8, 256, 8, 8, 4};
  else throw_bad_input("tiny_vlm: unknown size '" + size + "' (expected S, M or L)");
  TinyVlmOptions o(family, VisionOptions(d.vision_hidden, d.vision_layers, d.vision_heads),
                   TextOptions(vocab_size, d.hidden, d.layers, d.heads).kv_heads(d.kv_heads));
  return o;
}

}  // namespace mstar::tiny_vlm
