// config.json and preprocessor_config.json. Published checkpoints keep the
// text fields at the top level with rope_scaling {type: mrope}; transformers
// 5 writes them under text_config with rope_parameters. Both are read.
#include "mstar/error.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

namespace {

struct Reader {
  const Json& j;
  std::string where;

  bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
  int64_t integer(const char* key, int64_t fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_number_integer()) throw_bad_input(where + ": \"" + key + "\" must be an integer, got " + j[key].dump());
    const int64_t v = j[key].get<int64_t>();
    if (v < 0) throw_bad_input(where + ": \"" + key + "\" must not be negative, got " + std::to_string(v));
    return v;
  }
  double real(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_number()) throw_bad_input(where + ": \"" + key + "\" must be a number, got " + j[key].dump());
    return j[key].get<double>();
  }
  std::vector<int64_t> ints(const char* key, std::vector<int64_t> fallback) const {
    if (!has(key)) return fallback;
    if (j[key].is_number_integer()) return {j[key].get<int64_t>()};
    if (!j[key].is_array()) throw_bad_input(where + ": \"" + key + "\" must be a list of integers");
    std::vector<int64_t> out;
    for (const auto& v : j[key]) {
      if (!v.is_number_integer()) throw_bad_input(where + ": \"" + key + "\" must be a list of integers");
      out.push_back(v.get<int64_t>());
    }
    return out;
  }
  void activation(const char* key) const {
    if (has(key) && j[key] != "silu")
      throw_bad_input(where + ": \"" + key + "\" is " + j[key].dump() + "; only silu is implemented");
  }
};

void check_positive(const std::string& where, const char* what, int64_t v) {
  if (v <= 0) throw_bad_input(where + ": \"" + what + "\" must be positive");
}

}  // namespace

Config config_from_json(const Json& j, const std::string& origin) {
  if (!j.is_object()) throw_bad_input(origin + ": not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "qwen2_5_vl")
    throw_bad_input(origin + ": model_type " + j["model_type"].dump() + " is not qwen2_5_vl");
  Config c;
  Reader top{j, origin};
  if (!j.contains("vision_config") || !j["vision_config"].is_object())
    throw_bad_input(origin + ": no \"vision_config\" object");
  const Json& vj = j["vision_config"];
  Reader vr{vj, origin + ": vision_config"};
  VisionConfig& v = c.vision;
  v.depth = vr.integer("depth", v.depth);
  v.hidden = vr.integer("hidden_size", v.hidden);
  v.intermediate = vr.integer("intermediate_size", v.intermediate);
  v.heads = vr.integer("num_heads", v.heads);
  v.in_channels = vr.integer("in_channels", vr.integer("in_chans", v.in_channels));
  v.patch = vr.integer("patch_size", v.patch);
  v.merge = vr.integer("spatial_merge_size", v.merge);
  v.temporal_patch = vr.integer("temporal_patch_size", v.temporal_patch);
  v.window = vr.integer("window_size", v.window);
  v.out_hidden = vr.integer("out_hidden_size", v.out_hidden);
  v.tokens_per_second = vr.integer("tokens_per_second", v.tokens_per_second);
  v.fullatt_blocks = vr.ints("fullatt_block_indexes", v.fullatt_blocks);
  vr.activation("hidden_act");
  if (vr.has("rope_parameters") && vj["rope_parameters"].is_object())
    v.rope_theta = Reader{vj["rope_parameters"], vr.where + ".rope_parameters"}.real("rope_theta", v.rope_theta);
  for (auto [name, value] : {std::pair{"depth", v.depth}, {"hidden_size", v.hidden}, {"num_heads", v.heads},
                             {"patch_size", v.patch}, {"spatial_merge_size", v.merge}, {"window_size", v.window}})
    check_positive(vr.where, name, value);
  if (v.hidden % v.heads != 0 || v.head_dim() % 4 != 0)
    throw_bad_input(vr.where + ": hidden_size / num_heads must be a multiple of 4 (2D rotary)");
  if (v.window % (v.merge * v.patch) != 0)
    throw_bad_input(vr.where + ": window_size must be a multiple of spatial_merge_size x patch_size");

  // Text fields: under text_config (transformers 5) or at the top (published checkpoints).
  const Json& tj = j.contains("text_config") && j["text_config"].is_object() ? j["text_config"] : j;
  Reader tr{tj, &tj == &j ? origin : origin + ": text_config"};
  TextConfig& t = c.text;
  t.vocab = tr.integer("vocab_size", top.integer("vocab_size", t.vocab));
  t.hidden = tr.integer("hidden_size", t.hidden);
  t.intermediate = tr.integer("intermediate_size", t.intermediate);
  t.layers = tr.integer("num_hidden_layers", t.layers);
  t.heads = tr.integer("num_attention_heads", t.heads);
  t.kv_heads = tr.integer("num_key_value_heads", t.heads);
  t.max_positions = tr.integer("max_position_embeddings", t.max_positions);
  t.rms_eps = tr.real("rms_norm_eps", t.rms_eps);
  tr.activation("hidden_act");
  if (tr.has("use_sliding_window") && tj["use_sliding_window"] == true)
    throw_bad_input(tr.where + ": use_sliding_window is true; sliding-window text attention is not implemented");
  t.rope_theta = tr.real("rope_theta", t.rope_theta);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    const Json& src = tr.has(key) ? tj : top.has(key) ? j : Json();
    if (src.is_null() || !src[key].is_object()) continue;
    Reader rr{src[key], tr.where + "." + key};
    const std::string type = src[key].value("rope_type", src[key].value("type", "default"));
    if (type != "default" && type != "mrope")
      throw_bad_input(rr.where + ": rope type \"" + type + "\" is not implemented (default/mrope only)");
    t.rope_theta = rr.real("rope_theta", t.rope_theta);
    t.mrope_section = rr.ints("mrope_section", t.mrope_section);
    break;
  }
  for (auto [name, value] : {std::pair{"vocab_size", t.vocab}, {"hidden_size", t.hidden}, {"num_hidden_layers", t.layers},
                             {"num_attention_heads", t.heads}, {"num_key_value_heads", t.kv_heads}})
    check_positive(tr.where, name, value);
  if (t.hidden % t.heads != 0 || t.heads % t.kv_heads != 0 || t.head_dim() % 2 != 0)
    throw_bad_input(tr.where + ": hidden_size must split into an even head_dim and heads into kv groups");
  int64_t section = 0;
  for (int64_t s : t.mrope_section) section += s;
  if (t.mrope_section.size() != 3 || section * 2 != t.head_dim())
    throw_bad_input(tr.where + ": mrope_section must be 3 sizes adding up to head_dim / 2 = " +
                    std::to_string(t.head_dim() / 2));
  if (v.out_hidden != t.hidden)
    throw_bad_input(vr.where + ": out_hidden_size " + std::to_string(v.out_hidden) + " must equal the text hidden_size " +
                    std::to_string(t.hidden));

  c.tie_embeddings = j.value("tie_word_embeddings", tj.value("tie_word_embeddings", false));
  c.image_token_id = top.integer("image_token_id", c.image_token_id);
  c.video_token_id = top.integer("video_token_id", c.video_token_id);
  c.vision_start_id = top.integer("vision_start_token_id", c.vision_start_id);
  c.vision_end_id = top.integer("vision_end_token_id", c.vision_end_id);
  c.eos_ids = tr.ints("eos_token_id", top.ints("eos_token_id", {}));
  c.pad_id = tr.has("pad_token_id") ? tr.integer("pad_token_id", -1) : top.integer("pad_token_id", -1);
  if (c.image_token_id >= t.vocab) throw_bad_input(origin + ": image_token_id is outside the vocabulary");
  return c;
}

Json to_json(const Config& c) {
  const VisionConfig& v = c.vision;
  const TextConfig& t = c.text;
  Json text = {{"model_type", "qwen2_5_vl_text"}, {"vocab_size", t.vocab}, {"hidden_size", t.hidden},
               {"intermediate_size", t.intermediate}, {"num_hidden_layers", t.layers},
               {"num_attention_heads", t.heads}, {"num_key_value_heads", t.kv_heads},
               {"max_position_embeddings", t.max_positions}, {"rms_norm_eps", t.rms_eps}, {"hidden_act", "silu"},
               {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", t.rope_theta}, {"mrope_section", t.mrope_section}}}};
  if (!c.eos_ids.empty()) text["eos_token_id"] = c.eos_ids.size() == 1 ? Json(c.eos_ids[0]) : Json(c.eos_ids);
  if (c.pad_id >= 0) text["pad_token_id"] = c.pad_id;
  Json vision = {{"model_type", "qwen2_5_vl_vision"}, {"depth", v.depth}, {"hidden_size", v.hidden},
                 {"intermediate_size", v.intermediate}, {"num_heads", v.heads}, {"in_channels", v.in_channels},
                 {"patch_size", v.patch}, {"spatial_merge_size", v.merge}, {"temporal_patch_size", v.temporal_patch},
                 {"window_size", v.window}, {"out_hidden_size", v.out_hidden}, {"hidden_act", "silu"},
                 {"tokens_per_second", v.tokens_per_second}, {"fullatt_block_indexes", v.fullatt_blocks},
                 {"rope_parameters", {{"rope_type", "axial"}, {"rope_theta", v.rope_theta}}}};
  return {{"architectures", {"Qwen2_5_VLForConditionalGeneration"}}, {"model_type", "qwen2_5_vl"},
          {"text_config", text}, {"vision_config", vision}, {"tie_word_embeddings", c.tie_embeddings},
          {"image_token_id", c.image_token_id}, {"video_token_id", c.video_token_id},
          {"vision_start_token_id", c.vision_start_id}, {"vision_end_token_id", c.vision_end_id}};
}

ProcessorConfig processor_from_json(const Json& j, const std::string& origin) {
  if (!j.is_object()) throw_bad_input(origin + ": not a JSON object");
  ProcessorConfig p;
  Reader r{j, origin};
  // transformers keeps the pixel bounds in size {shortest_edge, longest_edge}; older files say min/max_pixels.
  if (r.has("size") && j["size"].is_object()) {
    Reader s{j["size"], origin + ": size"};
    p.min_pixels = s.integer("shortest_edge", p.min_pixels);
    p.max_pixels = s.integer("longest_edge", p.max_pixels);
  }
  p.min_pixels = r.integer("min_pixels", p.min_pixels);
  p.max_pixels = r.integer("max_pixels", p.max_pixels);
  p.patch = r.integer("patch_size", p.patch);
  p.merge = r.integer("merge_size", p.merge);
  p.temporal_patch = r.integer("temporal_patch_size", p.temporal_patch);
  p.rescale = r.real("rescale_factor", p.rescale);
  for (const char* key : {"image_mean", "image_std"}) {
    if (!r.has(key)) continue;
    if (!j[key].is_array() || j[key].size() != 3) throw_bad_input(origin + ": \"" + key + "\" must be 3 numbers");
    float* dst = std::string(key) == "image_mean" ? p.mean : p.std;
    for (int i = 0; i < 3; ++i) dst[i] = j[key][i].get<float>();
  }
  if (p.patch <= 0 || p.merge <= 0 || p.temporal_patch <= 0 || p.min_pixels > p.max_pixels)
    throw_bad_input(origin + ": patch/merge sizes must be positive and min_pixels <= max_pixels");
  return p;
}

Json to_json(const ProcessorConfig& p) {
  return {{"image_processor_type", "Qwen2VLImageProcessor"},
          {"size", {{"shortest_edge", p.min_pixels}, {"longest_edge", p.max_pixels}}},
          {"patch_size", p.patch}, {"merge_size", p.merge}, {"temporal_patch_size", p.temporal_patch},
          {"rescale_factor", p.rescale}, {"image_mean", {p.mean[0], p.mean[1], p.mean[2]}},
          {"image_std", {p.std[0], p.std[1], p.std[2]}}};
}

}  // namespace mstar::qwen2_5_vl
