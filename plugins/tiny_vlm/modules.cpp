#include <cmath>
#include <limits>
#include <optional>

#include <ATen/CPUGeneratorImpl.h>

#include "mstar/error.h"
#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace F = torch::nn::functional;

namespace detail {

// LeCun normal: std = scale / sqrt(fan_in); biases 0.
void init_linear(const torch::nn::Linear& layer, double scale) {
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

}  // namespace detail

using detail::apply_rope;
using detail::head_factors;
using detail::init_linear;
using detail::polar_unit;

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
