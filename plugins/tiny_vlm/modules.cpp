#include <cmath>
#include <limits>
#include <optional>

#include <ATen/CPUGeneratorImpl.h>

#include "mstar/error.h"
#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace F = torch::nn::functional;

namespace {

// LeCun normal: std = scale / sqrt(fan_in); biases 0.
void init_linear(const torch::nn::Linear& layer, double scale = 1.0) {
  torch::NoGradGuard no_grad;
  layer->weight.normal_(0.0, scale / std::sqrt(static_cast<double>(layer->weight.size(1))));
  if (layer->bias.defined()) layer->bias.zero_();
}

// Rotates the pairs (x[2i], x[2i+1]) of x [B,T,N,hd] by complex factors
// broadcastable to [B,T,N,hd/2]. Float32 math whatever the model dtype.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& factors) {
  const auto sizes = x.sizes().vec();
  std::vector<int64_t> pairs = sizes;
  pairs.back() /= 2;
  pairs.push_back(2);
  const bool f32 = x.scalar_type() == torch::kFloat32;
  torch::Tensor xf = f32 ? x : x.to(torch::kFloat32);
  torch::Tensor out = torch::view_as_real(torch::view_as_complex(xf.view(pairs)) * factors).view(sizes);
  return f32 ? out : out.to(x.scalar_type());
}

// Per-head rotation factors [.., heads + kv_heads, hd/2] from base factors
// [.., hd/2]; the query heads also carry the attention scale, which saves a
// separate multiply of q (or of the scores) in every layer.
torch::Tensor head_factors(const torch::Tensor& base, int64_t heads, int64_t kv_heads, double scale) {
  std::vector<int64_t> q_shape = base.sizes().vec(), k_shape = base.sizes().vec();
  q_shape.insert(q_shape.end() - 1, heads);
  k_shape.insert(k_shape.end() - 1, kv_heads);
  torch::Tensor b = base.unsqueeze(-2);
  return torch::cat({(b * scale).expand(q_shape), b.expand(k_shape)}, -2);
}

// Complex factors exp(i * angles).
torch::Tensor polar_unit(const torch::Tensor& angles) { return torch::polar(torch::ones_like(angles), angles); }

}  // namespace

double mask_value(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat16: return -65504.0;
    case torch::kBFloat16: return -3.38e38;
    case torch::kFloat64: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

// ---- RMSNorm ----------------------------------------------------------------

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

void RMSNormImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  weight.fill_(1.0);
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return rms_norm(x, weight, eps); }

// ---- attention ----------------------------------------------------------------

AttentionImpl::AttentionImpl(const AttentionOptions& options_) : options(options_) {
  const int64_t hd = options.dim() / options.heads();
  qkv_proj = register_module(
      "qkv_proj", torch::nn::Linear(torch::nn::LinearOptions(options.dim(), (options.heads() + 2 * options.kv_heads()) * hd)
                                        .bias(options.qkv_bias())));
  o_proj = register_module("o_proj",
                           torch::nn::Linear(torch::nn::LinearOptions(options.heads() * hd, options.dim()).bias(options.out_bias())));
}

void AttentionImpl::reset_parameters(double out_std_scale) {
  init_linear(qkv_proj);
  init_linear(o_proj, out_std_scale);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& rope, const torch::Tensor& mask,
                                     KvSlot* cache, int64_t offset, bool causal) {
  const int64_t b = x.size(0), t = x.size(1);
  const int64_t h = options.heads(), kv = options.kv_heads(), g = h / kv;
  const int64_t hd = options.dim() / h;
  torch::Tensor qkv = qkv_proj(x);  // [B,T,(H+2KV)*hd]
  torch::Tensor qk = qkv.narrow(-1, 0, (h + kv) * hd).view({b, t, h + kv, hd});
  torch::Tensor v = qkv.narrow(-1, (h + kv) * hd, kv * hd).view({b, t, kv, hd});
  // The rotation factors carry the query scale: SDPA must not scale again.
  std::optional<double> scale;
  if (rope.defined()) {
    qk = apply_rope(qk, rope);
    scale = 1.0;
  }
  torch::Tensor keys = qk.narrow(2, h, kv).transpose(1, 2);  // [B,KV,T,hd]
  torch::Tensor values = v.transpose(1, 2);                  // [B,KV,T,hd]
  if (cache) {
    cache->k.narrow(2, offset, t).copy_(keys);
    cache->v.narrow(2, offset, t).copy_(values);
    keys = cache->k.narrow(2, 0, offset + t);
    values = cache->v.narrow(2, 0, offset + t);
  }
  const std::optional<torch::Tensor> attn_mask = mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt;
  torch::Tensor out;
  if (t == 1 && kv < h) {
    // One new token: the g query heads of a kv head become g query rows
    // over the same keys, which spares SDPA expanding keys and values.
    torch::Tensor q = qk.narrow(2, 0, h).reshape({b, kv, g, hd});
    out = at::scaled_dot_product_attention(q, keys, values, attn_mask, 0.0, false, scale).reshape({b, 1, h * hd});
  } else {
    torch::Tensor q = qk.narrow(2, 0, h).transpose(1, 2);  // [B,H,T,hd]
    out = at::scaled_dot_product_attention(q, keys, values, attn_mask, 0.0, causal && !mask.defined(), scale,
                                           /*enable_gqa=*/kv < h);
    out = out.transpose(1, 2).reshape({b, t, h * hd});
  }
  return o_proj(out);
}

// ---- MLPs ------------------------------------------------------------------------

SwiGluImpl::SwiGluImpl(int64_t dim, int64_t hidden, bool bias) {
  gate_up_proj = register_module("gate_up_proj", torch::nn::Linear(torch::nn::LinearOptions(dim, 2 * hidden).bias(bias)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, dim).bias(bias)));
}

void SwiGluImpl::reset_parameters(double out_std_scale) {
  init_linear(gate_up_proj);
  init_linear(down_proj, out_std_scale);
}

torch::Tensor SwiGluImpl::forward(const torch::Tensor& x) {
  auto gu = gate_up_proj(x).chunk(2, -1);
  return down_proj(torch::silu(gu[0]) * gu[1]);
}

GeluMlpImpl::GeluMlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

void GeluMlpImpl::reset_parameters(double out_std_scale) {
  init_linear(fc1);
  init_linear(fc2, out_std_scale);
}

torch::Tensor GeluMlpImpl::forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }

// ---- blocks ---------------------------------------------------------------------------

DecoderLayerImpl::DecoderLayerImpl(const AttentionOptions& attention, int64_t intermediate, bool mlp_bias, double eps) {
  input_layernorm = register_module("input_layernorm", RMSNorm(attention.dim(), eps));
  self_attn = register_module("self_attn", Attention(attention));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(attention.dim(), eps));
  mlp = register_module("mlp", SwiGlu(attention.dim(), intermediate, mlp_bias));
}

void DecoderLayerImpl::reset_parameters(double out_std_scale) {
  input_layernorm->reset_parameters();
  post_attention_layernorm->reset_parameters();
  self_attn->reset_parameters(out_std_scale);
  mlp->reset_parameters(out_std_scale);
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& rope, const torch::Tensor& mask,
                                        KvSlot* cache, int64_t offset, bool causal) {
  torch::Tensor h = x + self_attn(input_layernorm(x), rope, mask, cache, offset, causal);
  return h + mlp(post_attention_layernorm(h));
}

ClipLayerImpl::ClipLayerImpl(int64_t dim, int64_t heads, int64_t intermediate) {
  layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)));
  self_attn = register_module("self_attn", Attention(AttentionOptions(dim, heads).qkv_bias(true).out_bias(true)));
  layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5)));
  mlp = register_module("mlp", GeluMlp(dim, intermediate));
}

void ClipLayerImpl::reset_parameters(double out_std_scale) {
  layer_norm1->reset_parameters();
  layer_norm2->reset_parameters();
  self_attn->reset_parameters(out_std_scale);
  mlp->reset_parameters(out_std_scale);
}

torch::Tensor ClipLayerImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = x + self_attn(layer_norm1(x), torch::Tensor(), torch::Tensor());
  return h + mlp(layer_norm2(h));
}

// ---- vision towers and projectors -----------------------------------------------------------

namespace {

// [B,3,S,S] -> [B, (S/p)^2, 3*p*p], patches in raster order.
torch::Tensor patchify(const torch::Tensor& pixels, int64_t patch) {
  const int64_t b = pixels.size(0), c = pixels.size(1), g = pixels.size(2) / patch;
  return pixels.view({b, c, g, patch, g, patch}).permute({0, 2, 4, 1, 3, 5}).reshape({b, g * g, c * patch * patch});
}

}  // namespace

PatchMergerImpl::PatchMergerImpl(int64_t vision_hidden, int64_t text_hidden, int64_t merge, double eps)
    : merge_size(merge) {
  const int64_t width = vision_hidden * merge * merge;
  ln_q = register_module("ln_q", RMSNorm(vision_hidden, eps));
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(width, width), torch::nn::Functional(torch::gelu, "none"),
                                                     torch::nn::Linear(width, text_hidden)));
}

torch::nn::Linear PatchMergerImpl::output_layer() { return torch::nn::Linear(mlp->ptr<torch::nn::LinearImpl>(2)); }

void PatchMergerImpl::reset_parameters() {
  ln_q->reset_parameters();
  init_linear(torch::nn::Linear(mlp->ptr<torch::nn::LinearImpl>(0)));
  init_linear(torch::nn::Linear(mlp->ptr<torch::nn::LinearImpl>(2)));
}

torch::Tensor PatchMergerImpl::forward(const torch::Tensor& x, int64_t grid) {
  const int64_t b = x.size(0), d = x.size(2), m = merge_size, gm = grid / merge_size;
  torch::Tensor merged =
      ln_q(x).view({b, gm, m, gm, m, d}).permute({0, 1, 3, 2, 4, 5}).reshape({b, gm * gm, m * m * d});
  return mlp->forward(merged);
}

QwenVisionImpl::QwenVisionImpl(const TinyVlmOptions& options_) : options(options_) {
  const auto& v = options.vision();
  const int64_t p = options.patch_size();
  patch_embed = register_module("patch_embed", torch::nn::Linear(torch::nn::LinearOptions(3 * p * p, v.hidden()).bias(false)));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < v.layers(); ++i) {
    DecoderLayer block(AttentionOptions(v.hidden(), v.heads()).qkv_bias(true).out_bias(true),
                       vision_intermediate(options), /*mlp_bias=*/true, v.norm_eps());
    blocks->push_back(block);
    block_list.push_back(block);
  }
  merger = register_module("merger", PatchMerger(v.hidden(), options.text().hidden(), options.merge_size(), v.norm_eps()));
  build_tables(torch::kCPU);
}

void QwenVisionImpl::build_tables(torch::Device device) {
  const auto& v = options.vision();
  const int64_t hd = v.hidden() / v.heads(), quarter = hd / 4, g = patches_per_side(options);
  // Qwen2-VL: a rotary embedding of width hd/2 per axis; the first half of
  // the pairs turns with the patch row, the second with the column.
  torch::Tensor inv = torch::pow(v.rope_theta(), -torch::arange(0, quarter, torch::kFloat64) * 2.0 / (hd / 2.0));
  torch::Tensor idx = torch::arange(g * g, torch::kFloat64);
  torch::Tensor rows = torch::floor(idx / g), cols = idx - rows * g;
  torch::Tensor angles = torch::cat({rows.unsqueeze(1) * inv, cols.unsqueeze(1) * inv}, 1).to(torch::kFloat32);
  torch::Tensor base = polar_unit(angles).unsqueeze(0);  // [1, N, hd/2]
  rope = head_factors(base, v.heads(), v.heads(), 1.0 / std::sqrt(static_cast<double>(hd))).to(device);
}

void QwenVisionImpl::reset_parameters() {
  init_linear(patch_embed);
  const double out_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(block_list.size()));
  for (auto& b : block_list) b->reset_parameters(out_scale);
  merger->reset_parameters();
}

torch::Tensor QwenVisionImpl::forward(const torch::Tensor& pixels) {
  torch::Tensor x = patch_embed(patchify(pixels, options.patch_size()));
  for (auto& b : block_list) x = b->forward(x, rope, torch::Tensor());
  return merger->forward(x, patches_per_side(options));
}

ClipVisionImpl::ClipVisionImpl(const TinyVlmOptions& options_) : options(options_) {
  const auto& v = options.vision();
  const int64_t p = options.patch_size(), n = patches_per_side(options) * patches_per_side(options);
  patch_embedding =
      register_module("patch_embedding", torch::nn::Linear(torch::nn::LinearOptions(3 * p * p, v.hidden()).bias(false)));
  class_embedding = register_parameter("class_embedding", torch::zeros({v.hidden()}));
  position_embedding = register_parameter("position_embedding", torch::zeros({n + 1, v.hidden()}));
  pre_layrnorm = register_module("pre_layrnorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({v.hidden()}).eps(1e-5)));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < v.layers(); ++i) {
    ClipLayer layer(v.hidden(), v.heads(), vision_intermediate(options));
    layers->push_back(layer);
    layer_list.push_back(layer);
  }
}

void ClipVisionImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  init_linear(patch_embedding);
  // Patch embeddings of pixels in [-1, 1] have an RMS near 0.6: class token
  // and positions start at a comparable scale.
  class_embedding.normal_(0.0, 0.5);
  position_embedding.normal_(0.0, 0.5);
  pre_layrnorm->reset_parameters();
  const double out_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(layer_list.size()));
  for (auto& l : layer_list) l->reset_parameters(out_scale);
}

torch::Tensor ClipVisionImpl::forward(const torch::Tensor& pixels) {
  torch::Tensor x = patch_embedding(patchify(pixels, options.patch_size()));
  const int64_t b = x.size(0), n = x.size(1);
  torch::Tensor cls = class_embedding.view({1, 1, -1}).expand({b, 1, class_embedding.size(0)});
  x = pre_layrnorm(torch::cat({cls, x}, 1) + position_embedding);
  for (auto& l : layer_list) x = l->forward(x);
  return x.narrow(1, 1, n);  // LLaVA's "default" feature select: patches only
}

LlavaProjectorImpl::LlavaProjectorImpl(int64_t vision_hidden, int64_t text_hidden) {
  linear_1 = register_module("linear_1", torch::nn::Linear(vision_hidden, text_hidden));
  linear_2 = register_module("linear_2", torch::nn::Linear(text_hidden, text_hidden));
}

void LlavaProjectorImpl::reset_parameters() {
  init_linear(linear_1);
  init_linear(linear_2);
}

torch::Tensor LlavaProjectorImpl::forward(const torch::Tensor& x) { return linear_2(torch::gelu(linear_1(x))); }

// ---- language model -------------------------------------------------------------------------

TextModelImpl::TextModelImpl(const TextOptions& options_, int64_t kv_heads, int64_t intermediate) : options(options_) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(options.vocab_size(), options.hidden()));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.layers(); ++i) {
    DecoderLayer layer(AttentionOptions(options.hidden(), options.heads()).kv_heads(kv_heads).qkv_bias(true).out_bias(false),
                       intermediate, /*mlp_bias=*/false, options.norm_eps());
    layers->push_back(layer);
    layer_list_.push_back(layer);
  }
  norm = register_module("norm", RMSNorm(options.hidden(), options.norm_eps()));
}

void TextModelImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  const double std = options.embed_std() > 0 ? options.embed_std() : 1.0 / std::sqrt(static_cast<double>(options.hidden()));
  embed_tokens->weight.normal_(0.0, std);
  const double out_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(layer_list_.size()));
  for (auto& l : layer_list_) l->reset_parameters(out_scale);
  norm->reset_parameters();
}

torch::Tensor TextModelImpl::forward(torch::Tensor x, const torch::Tensor& rope, const torch::Tensor& mask,
                                     std::vector<KvSlot>* cache, int64_t offset, bool causal) {
  for (size_t i = 0; i < layer_list_.size(); ++i)
    x = layer_list_[i]->forward(x, rope, mask, cache ? &(*cache)[i] : nullptr, offset, causal);
  return norm(x);
}

// ---- the whole model ---------------------------------------------------------------------------

TinyVlmImpl::TinyVlmImpl(const TinyVlmOptions& options_) : options(options_) {
  validate(options);
  if (options.family() == Family::Qwen) {
    visual = register_module("visual", QwenVision(options));
  } else {
    vision_tower = register_module("vision_tower", ClipVision(options));
    multi_modal_projector =
        register_module("multi_modal_projector", LlavaProjector(options.vision().hidden(), options.text().hidden()));
  }
  model = register_module("model", TextModel(options.text(), kv_heads(options), text_intermediate(options)));
  if (!options.text().tie_embeddings())
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(options.text().hidden(), options.text().vocab_size()).bias(false)));
  build_tables(torch::kCPU);
  reset_parameters();
}

void TinyVlmImpl::build_tables(torch::Device device) {
  const auto& t = options.text();
  const int64_t hd = t.hidden() / t.heads();
  torch::Tensor inv = torch::pow(t.rope_theta(), -torch::arange(0, hd / 2, torch::kFloat64) * 2.0 / static_cast<double>(hd));
  torch::Tensor pos = torch::arange(t.max_positions(), torch::kFloat64);
  rope_table = polar_unit((pos.unsqueeze(1) * inv.unsqueeze(0)).to(torch::kFloat32)).to(device);
  if (visual) visual->build_tables(device);
}

torch::nn::Linear TinyVlmImpl::output_projection() {
  if (visual) return visual->merger->output_layer();
  return multi_modal_projector->linear_2;
}

void TinyVlmImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (visual) {
    visual->reset_parameters();
  } else {
    vision_tower->reset_parameters();
    multi_modal_projector->reset_parameters();
  }
  model->reset_parameters();
  if (lm_head) init_linear(lm_head);
  // Bring image tokens to the RMS of text tokens: with image tokens ~50x
  // larger (the std-0.02 failure), the statement's words drown and an answer
  // that depends on them stays at chance even under supervised training.
  const double target = text_token_rms();
  const double rms = image_token_rms();
  if (rms > 0 && std::isfinite(rms)) {
    torch::nn::Linear last = output_projection();
    last->weight.mul_(target / rms);
    if (last->bias.defined()) last->bias.mul_(target / rms);
  }
}

double TinyVlmImpl::text_token_rms() {
  torch::NoGradGuard no_grad;
  const double scale = options.text().scale_embeddings() ? std::sqrt(static_cast<double>(options.text().hidden())) : 1.0;
  return model->embed_tokens->weight.to(torch::kFloat32).pow(2).mean().sqrt().item<double>() * scale;
}

double TinyVlmImpl::image_token_rms(int64_t count) {
  torch::NoGradGuard no_grad;
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.calibration_seed());
  const int64_t s = options.image_size();
  torch::Tensor images = torch::rand({count, 3, s, s}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  const auto& w = model->embed_tokens->weight;
  torch::Tensor feats = image_features(images.to(w.device()));
  return feats.to(torch::kFloat32).pow(2).mean().sqrt().item<double>();
}

torch::Tensor TinyVlmImpl::image_features(const torch::Tensor& images) {
  const int64_t s = options.image_size();
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s)
    throw_bad_input("tiny_vlm: images must be [B,3," + std::to_string(s) + "," + std::to_string(s) + "], got " +
                    c10::str(images.sizes()));
  const auto& w = model->embed_tokens->weight;
  torch::Tensor pixels = (images.to(w.device(), w.scalar_type()) - 0.5) * 2.0;
  if (visual) return visual->forward(pixels);
  return multi_modal_projector->forward(vision_tower->forward(pixels));
}

torch::Tensor TinyVlmImpl::embed_text(const torch::Tensor& token_ids) {
  torch::Tensor x = F::embedding(token_ids, model->embed_tokens->weight);
  if (options.text().scale_embeddings()) x = x * std::sqrt(static_cast<double>(options.text().hidden()));
  return x;
}

torch::Tensor TinyVlmImpl::embed(const torch::Tensor& token_ids, const torch::Tensor& images,
                                 const torch::Tensor& image_index) {
  torch::Tensor x = embed_text(token_ids);
  torch::Tensor is_image = token_ids == options.image_token_id();
  const int64_t per_image = image_token_count(options);
  torch::Tensor counts = is_image.sum(1).to(torch::kCPU);
  auto c = counts.accessor<int64_t, 1>();
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < counts.size(0); ++i) {
    if (c[i] == 0) continue;
    if (c[i] != per_image)
      throw_bad_input("tiny_vlm: sequence " + std::to_string(i) + " has " + std::to_string(c[i]) +
                      " <image> placeholders; expected 0 or " + std::to_string(per_image) + " (use build_prompt)");
    rows.push_back(i);
  }
  if (rows.empty()) return x;
  if (!images.defined())
    throw_bad_input("tiny_vlm: the prompts hold <image> placeholders but the batch has no images");
  if (image_index.defined()) {
    if (image_index.dim() != 1 || image_index.size(0) != token_ids.size(0))
      throw_bad_input("tiny_vlm: image_index must be [" + std::to_string(token_ids.size(0)) + "], got " +
                      c10::str(image_index.sizes()));
    torch::Tensor index = image_index.to(torch::kCPU, torch::kInt64);
    const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
    if (lo < 0 || hi >= images.size(0))
      throw_bad_input("tiny_vlm: image_index holds " + std::to_string(lo < 0 ? lo : hi) + " but the batch has " +
                      std::to_string(images.size(0)) + " images");
    torch::Tensor rows_t = torch::tensor(rows, torch::kInt64);
    torch::Tensor feats = image_features(images).to(x.scalar_type());
    feats = feats.index_select(0, index.index_select(0, rows_t).to(feats.device()));
    return x.masked_scatter(is_image.unsqueeze(-1), feats);
  }
  if (images.size(0) != token_ids.size(0))
    throw_bad_input("tiny_vlm: " + std::to_string(images.size(0)) + " images for a batch of " +
                    std::to_string(token_ids.size(0)) + " sequences");
  torch::Tensor selected = static_cast<int64_t>(rows.size()) == token_ids.size(0)
                               ? images
                               : images.index_select(0, torch::tensor(rows, torch::kInt64).to(images.device()));
  torch::Tensor feats = image_features(selected).to(x.scalar_type());
  return x.masked_scatter(is_image.unsqueeze(-1), feats);
}

torch::Tensor TinyVlmImpl::text_rope(const torch::Tensor& positions) {
  const auto& t = options.text();
  const int64_t hd = t.hidden() / t.heads();
  torch::Tensor base = rope_table.index_select(0, positions.reshape({-1})).view({positions.size(0), positions.size(1), hd / 2});
  return head_factors(base, t.heads(), kv_heads(options), 1.0 / std::sqrt(static_cast<double>(hd)));
}

torch::Tensor TinyVlmImpl::lm_logits(const torch::Tensor& hidden) {
  return lm_head ? lm_head(hidden) : F::linear(hidden, model->embed_tokens->weight);
}

torch::Tensor TinyVlmImpl::forward(const torch::Tensor& token_ids, const torch::Tensor& attention_mask,
                                   const torch::Tensor& images, const torch::Tensor& image_index) {
  const int64_t t = token_ids.size(1);
  if (t > options.text().max_positions())
    throw_bad_input("tiny_vlm: sequence of " + std::to_string(t) + " tokens exceeds max_positions " +
                    std::to_string(options.text().max_positions()));
  torch::Tensor x = embed(token_ids, images, image_index);
  const auto dev = token_ids.device();
  // Without padding the mask is plain causal, which SDPA applies without a
  // [B,T,T] mask tensor (and its flash kernel skips the masked blocks).
  if (!attention_mask.defined() || attention_mask.all().item<bool>()) {
    torch::Tensor positions = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64).device(dev)).unsqueeze(0);
    torch::Tensor h = model->forward(x, text_rope(positions), torch::Tensor(), nullptr, 0, /*causal=*/true);
    return lm_logits(h);
  }
  torch::Tensor m = attention_mask.to(torch::kInt64);
  torch::Tensor positions = (m.cumsum(1) - 1).clamp_min(0);
  torch::Tensor allowed = torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(dev)).tril().unsqueeze(0) &
                          m.to(torch::kBool).unsqueeze(1);  // [B,T,T]
  torch::Tensor mask = torch::zeros(allowed.sizes(), x.options())
                           .masked_fill_(allowed.logical_not(), mask_value(x.scalar_type()))
                           .unsqueeze(1);  // [B,1,T,T]
  torch::Tensor h = model->forward(x, text_rope(positions), mask);
  return lm_logits(h);
}

}  // namespace mstar::tiny_vlm
