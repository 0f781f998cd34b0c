// The tiny_fuyu network: options <-> config.json, and the torch modules.
#include <cmath>
#include <limits>
#include <string>

#include "mstar/error.h"
#include "tiny_fuyu.h"

namespace tiny_fuyu {

using mstar::Json;
using mstar::throw_bad_input;
namespace F = torch::nn::functional;

// ---- options --------------------------------------------------------------------

int64_t intermediate(const TinyFuyuOptions& o) { return o.intermediate() > 0 ? o.intermediate() : 4 * o.hidden(); }

int64_t image_token_count(const TinyFuyuOptions& o) {
  const int64_t side = o.image_size() / o.patch_size();
  return side * side;
}

void validate(const TinyFuyuOptions& o) {
  auto fail = [](const std::string& what) { throw_bad_input("tiny_fuyu: " + what); };
  if (o.vocab_size() < 1) fail("vocab_size must be >= 1");
  if (o.hidden() < 1 || o.layers() < 1 || o.heads() < 1) fail("hidden, layers and heads must be >= 1");
  if (o.hidden() % o.heads()) fail("hidden " + std::to_string(o.hidden()) + " is not a multiple of heads " + std::to_string(o.heads()));
  if (o.patch_size() < 1 || o.image_size() % o.patch_size())
    fail("image_size " + std::to_string(o.image_size()) + " is not a multiple of patch_size " + std::to_string(o.patch_size()));
  // Every prompt with an image holds image_token_count() positions of it.
  if (o.max_positions() <= image_token_count(o))
    fail("max_positions " + std::to_string(o.max_positions()) + " leaves no room next to " +
         std::to_string(image_token_count(o)) + " image tokens");
  if (o.image_token_id() < 0 || o.image_token_id() >= o.vocab_size()) fail("image_token_id outside the vocabulary");
}

Json to_json(const TinyFuyuOptions& o) {
  // Hugging Face layout. Consumers read a few keys by these names:
  // algorithm/grpo caps response lengths by text_config.max_position_embeddings.
  return {{"model_type", "tiny_fuyu"},
          {"image_size", o.image_size()},
          {"patch_size", o.patch_size()},
          {"image_token_id", o.image_token_id()},
          {"text_config",
           {{"vocab_size", o.vocab_size()},
            {"hidden_size", o.hidden()},
            {"num_hidden_layers", o.layers()},
            {"num_attention_heads", o.heads()},
            {"intermediate_size", intermediate(o)},
            {"max_position_embeddings", o.max_positions()},
            {"layer_norm_eps", o.norm_eps()}}}};
}

namespace {

// A config.json value, or an error that names the key: a checkpoint written
// by another version of this plugin must fail readably, not with a bare
// nlohmann exception.
template <class T>
T get(const Json& j, const char* key, const char* where) {
  if (!j.is_object() || !j.contains(key)) throw_bad_input(std::string(where) + ": missing \"" + key + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const Json::exception&) {
    throw_bad_input(std::string(where) + ": \"" + key + "\" has the wrong type (" + j.at(key).dump() + ")");
  }
}

}  // namespace

TinyFuyuOptions options_from_json(const Json& c) {
  const char* where = "tiny_fuyu config.json";
  const char* text = "tiny_fuyu config.json text_config";
  const Json t = c.value("text_config", Json::object());
  TinyFuyuOptions o(get<int64_t>(t, "vocab_size", text), get<int64_t>(t, "hidden_size", text),
                    get<int64_t>(t, "num_hidden_layers", text), get<int64_t>(t, "num_attention_heads", text));
  o.intermediate(get<int64_t>(t, "intermediate_size", text))
      .max_positions(get<int64_t>(t, "max_position_embeddings", text))
      .norm_eps(get<double>(t, "layer_norm_eps", text))
      .image_size(get<int64_t>(c, "image_size", where))
      .patch_size(get<int64_t>(c, "patch_size", where))
      .image_token_id(get<int64_t>(c, "image_token_id", where));
  validate(o);
  return o;
}

// ---- modules ----------------------------------------------------------------------

AttentionImpl::AttentionImpl(int64_t hidden, int64_t heads_) : heads(heads_) {
  query_key_value = register_module("query_key_value", torch::nn::Linear(hidden, 3 * hidden));
  dense = register_module("dense", torch::nn::Linear(hidden, hidden));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& bias) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads;
  // [B,T,3D] -> [3, B, heads, T, head_dim]: q, k and v from one matmul.
  torch::Tensor qkv = query_key_value(x).view({b, t, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  torch::Tensor scores = torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(static_cast<double>(hd)) + bias;
  torch::Tensor out = torch::matmul(scores.softmax(-1), qkv[2]);  // [B, heads, T, head_dim]
  return dense(out.transpose(1, 2).reshape({b, t, d}));
}

MlpImpl::MlpImpl(int64_t hidden, int64_t width) {
  dense_h_to_4h = register_module("dense_h_to_4h", torch::nn::Linear(hidden, width));
  dense_4h_to_h = register_module("dense_4h_to_h", torch::nn::Linear(width, hidden));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return dense_4h_to_h(F::gelu(dense_h_to_4h(x))); }

DecoderLayerImpl::DecoderLayerImpl(const TinyFuyuOptions& o) {
  const auto ln = torch::nn::LayerNormOptions({o.hidden()}).eps(o.norm_eps());
  input_layernorm = register_module("input_layernorm", torch::nn::LayerNorm(ln));
  self_attn = register_module("self_attn", Attention(o.hidden(), o.heads()));
  post_attention_layernorm = register_module("post_attention_layernorm", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(o.hidden(), intermediate(o)));
}

torch::Tensor DecoderLayerImpl::forward(torch::Tensor x, const torch::Tensor& bias) {
  x = x + self_attn(input_layernorm(x), bias);
  return x + mlp(post_attention_layernorm(x));
}

TinyFuyuImpl::TinyFuyuImpl(const TinyFuyuOptions& o) : options(o) {
  const int64_t p = o.patch_size();
  // The whole "vision tower": one Linear from a flattened patch to the decoder width.
  vision_embed_tokens = register_module("vision_embed_tokens", torch::nn::Linear(3 * p * p, o.hidden()));
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(o.vocab_size(), o.hidden()));
  embed_positions = register_module("embed_positions", torch::nn::Embedding(o.max_positions(), o.hidden()));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.layers(); ++i) layers->push_back(DecoderLayer(o));
  final_layernorm = register_module("final_layernorm",
                                    torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.hidden()}).eps(o.norm_eps())));
  lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(o.hidden(), o.vocab_size()).bias(false)));
  reset_parameters();
}

void TinyFuyuImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const double d = static_cast<double>(options.hidden());
  // LeCun normal (std 1/sqrt(fan_in)) keeps activations at unit scale
  // through every Linear; `scale` shrinks the projections that write into
  // the residual stream, so its variance does not grow with depth.
  auto lecun = [](torch::nn::Linear& l, double scale) {
    l->weight.normal_(0.0, scale / std::sqrt(static_cast<double>(l->weight.size(1))));
    l->bias.zero_();
  };
  // Token vectors of unit RMS per component: the scale image tokens and
  // positions are set against (std 0.02 would make text vanish beside images).
  embed_tokens->weight.normal_(0.0, 1.0);
  // Positions enter below the token scale: at init what a token is matters
  // more than where it is; training raises them where useful.
  embed_positions->weight.normal_(0.0, 0.2);
  // The head is untied (as in Persimmon, Fuyu's decoder) and LeCun-scaled,
  // so initial logits have unit std over the vocabulary. A head tied to the
  // embedding would favour each position's own input token (h . E[x] grows
  // with sqrt(D)), and a fresh policy would mostly repeat its last word.
  lm_head->weight.normal_(0.0, 1.0 / std::sqrt(d));
  // Pixels in [-1, 1] have an RMS of at most 1 (0.58 for uniform noise) and a
  // LeCun-initialised projection keeps that scale: image tokens start at or a
  // little below the text scale, with no calibration pass (tiny_vlm needs one
  // for its deeper vision tower).
  lecun(vision_embed_tokens, 1.0);
  const double residual = 1.0 / std::sqrt(2.0 * static_cast<double>(options.layers()));
  for (const auto& m : *layers) {
    auto* layer = m->as<DecoderLayerImpl>();
    lecun(layer->self_attn->query_key_value, 1.0);
    lecun(layer->self_attn->dense, residual);
    lecun(layer->mlp->dense_h_to_4h, 1.0);
    lecun(layer->mlp->dense_4h_to_h, residual);
  }
}

torch::Tensor TinyFuyuImpl::embed_image(const torch::Tensor& images) {
  const int64_t s = options.image_size(), p = options.patch_size(), side = s / p;
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s)
    throw_bad_input("tiny_fuyu: images must be [B,3," + std::to_string(s) + "," + std::to_string(s) + "], got " +
                    c10::str(images.sizes()));
  const torch::Tensor& w = vision_embed_tokens->weight;
  // Normalisation belongs to the backbone (docs/backbones.md): [0,1] -> [-1,1].
  torch::Tensor pixels = (images.to(w.device(), w.scalar_type()) - 0.5) * 2.0;
  // [B,3,S,S] -> [B,3,side,side,p,p] -> raster order of patches, each
  // flattened as (row, column, channel) like Hugging Face's FuyuImageProcessor.
  torch::Tensor patches = pixels.unfold(2, p, p).unfold(3, p, p).permute({0, 2, 3, 4, 5, 1})
                              .reshape({images.size(0), side * side, p * p * 3});
  return vision_embed_tokens(patches);
}

torch::Tensor TinyFuyuImpl::embed(const torch::Tensor& token_ids, const torch::Tensor& images) {
  torch::Tensor x = embed_tokens(token_ids);
  const int64_t n = image_token_count(options);
  torch::Tensor is_image = token_ids == options.image_token_id();
  // The first n placeholders of a row are where its image goes (build_prompt
  // puts exactly n there). A row with fewer is text only: a text prompt whose
  // sampled response happens to contain <image>.
  torch::Tensor slot = is_image & (is_image.cumsum(1) <= n);
  torch::Tensor with_image = slot.sum(1) == n;
  if (!with_image.any().item<bool>()) return x;
  slot = slot & with_image.unsqueeze(1);
  if (!images.defined() || images.size(0) != token_ids.size(0))
    throw_bad_input("tiny_fuyu: the prompts hold <image> placeholders but the batch has " +
                    std::string(images.defined() ? std::to_string(images.size(0)) : "no") + " images for " +
                    std::to_string(token_ids.size(0)) + " sequences");
  torch::Tensor rows = with_image.nonzero().squeeze(1).to(images.device());
  torch::Tensor tokens = embed_image(images.index_select(0, rows)).to(x.scalar_type()).to(x.device());
  // Row-major: the R images' n tokens fill the R rows' n slots in order.
  return x.masked_scatter(slot.unsqueeze(-1), tokens);
}

torch::Tensor TinyFuyuImpl::forward(const torch::Tensor& token_ids, const torch::Tensor& mask,
                                    const torch::Tensor& images) {
  const int64_t b = token_ids.size(0), t = token_ids.size(1);
  const torch::Tensor real = mask.defined() ? mask.to(token_ids.device()).to(torch::kBool) : torch::ones_like(token_ids, torch::kBool);
  // Positions count real tokens only, so left- and right-padded copies of a
  // sequence give the same logits (a convention every backbone keeps).
  torch::Tensor positions = (real.to(torch::kInt64).cumsum(1) - 1).clamp_min(0);
  if (positions.max().item<int64_t>() >= options.max_positions())
    throw_bad_input("tiny_fuyu: a sequence of " + std::to_string(positions.max().item<int64_t>() + 1) +
                    " tokens is longer than max_positions " + std::to_string(options.max_positions()));
  torch::Tensor x = embed(token_ids, images) + embed_positions(positions);

  // Query i sees key j when j <= i and j is a real token. It also always
  // sees itself, so that a padding query never has every key at -inf
  // (softmax would give NaN, and NaN poisons gradients); its output is unused.
  const auto flags = torch::TensorOptions().dtype(torch::kBool).device(x.device());
  torch::Tensor allowed = (torch::ones({t, t}, flags).tril().unsqueeze(0) & real.unsqueeze(1)) |
                          torch::eye(t, flags).unsqueeze(0);
  torch::Tensor bias = torch::zeros({b, 1, t, t}, x.options())
                           .masked_fill_(allowed.logical_not().unsqueeze(1), -std::numeric_limits<double>::infinity());
  for (const auto& m : *layers) x = m->as<DecoderLayerImpl>()->forward(x, bias);
  return lm_head(final_layernorm(x));
}

}  // namespace tiny_fuyu
