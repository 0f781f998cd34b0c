// The Qwen2 decoder (GQA with q/k/v biases, RMSNorm, SwiGLU, 3D M-RoPE),
// the language-model head (tied or not) and the whole model's forward.
#include "mstar/error.h"
#include "qwen2_5_vl.h"
#include "checkpoint.h"

namespace mstar::qwen2_5_vl {

double mask_value(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kBFloat16: return -3.3895313892515355e38;
    case torch::kFloat16: return -65504.0;
    case torch::kFloat64: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

DecoderLayerImpl::DecoderLayerImpl(const TextConfig& t, const torch::TensorOptions& options)
    : heads(t.heads), kv_heads(t.kv_heads) {
  const int64_t hd = t.head_dim();
  input_layernorm = register_module("input_layernorm", RMSNorm(t.hidden, t.rms_eps, options));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(t.hidden, t.rms_eps, options));
  auto attn = register_module("self_attn", std::make_shared<torch::nn::Module>());
  q_proj = attn->register_module("q_proj", Linear(t.hidden, t.heads * hd, true, options));
  k_proj = attn->register_module("k_proj", Linear(t.hidden, t.kv_heads * hd, true, options));
  v_proj = attn->register_module("v_proj", Linear(t.hidden, t.kv_heads * hd, true, options));
  o_proj = attn->register_module("o_proj", Linear(t.heads * hd, t.hidden, false, options));
  mlp = register_module("mlp", GatedMlp(t.hidden, t.intermediate, false, options));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& mask, KvSlot* cache, int64_t offset) {
  const int64_t b = x.size(0), t = x.size(1);
  const torch::Tensor h = input_layernorm(x);
  torch::Tensor q = q_proj(h).view({b, t, heads, -1}).transpose(1, 2);
  torch::Tensor k = k_proj(h).view({b, t, kv_heads, -1}).transpose(1, 2);
  torch::Tensor v = v_proj(h).view({b, t, kv_heads, -1}).transpose(1, 2);
  const torch::Tensor c = cos.unsqueeze(1), s = sin.unsqueeze(1);
  q = q * c + rotate_half(q) * s;
  k = k * c + rotate_half(k) * s;
  if (cache) {
    cache->k.narrow(2, offset, t).copy_(k);
    cache->v.narrow(2, offset, t).copy_(v);
    k = cache->k.narrow(2, 0, offset + t);
    v = cache->v.narrow(2, 0, offset + t);
  }
  const torch::Tensor attn = at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, std::nullopt,
                                                              /*enable_gqa=*/heads != kv_heads);
  const torch::Tensor out = x + o_proj(attn.transpose(1, 2).reshape({b, t, -1}));
  return out + mlp(post_attention_layernorm(out));
}

TextModelImpl::TextModelImpl(const TextConfig& t, const torch::TensorOptions& options) : config(t) {
  auto embed = register_module("embed_tokens", std::make_shared<torch::nn::Module>());
  embed_tokens = embed->register_parameter("weight", torch::empty({t.vocab, t.hidden}, options));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < t.layers; ++i) {
    layers.push_back(DecoderLayer(t, options));
    list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(t.hidden, t.rms_eps, options));
}

std::pair<torch::Tensor, torch::Tensor> TextModelImpl::rope(const torch::Tensor& position_ids, torch::Dtype dtype) const {
  const int64_t hd = config.head_dim();
  const torch::Device dev = embed_tokens.device();
  const torch::Tensor inv_freq =
      1.0 / torch::pow(config.rope_theta, torch::arange(0, hd, 2, torch::kFloat32) / static_cast<double>(hd));
  // [3,B,T,F]: one rotation table per axis (temporal, height, width)
  const torch::Tensor freqs = position_ids.to(dev, torch::kFloat32).unsqueeze(-1) * inv_freq.to(dev);
  std::vector<torch::Tensor> parts;
  int64_t start = 0;
  for (size_t i = 0; i < config.mrope_section.size(); ++i) {
    parts.push_back(freqs.select(0, static_cast<int64_t>(i % 3)).narrow(-1, start, config.mrope_section[i]));
    start += config.mrope_section[i];
  }
  const torch::Tensor f = torch::cat(parts, -1);
  const torch::Tensor full = torch::cat({f, f}, -1);
  return {full.cos().to(dtype), full.sin().to(dtype)};
}

torch::Tensor TextModelImpl::forward(const torch::Tensor& embeds, const torch::Tensor& position_ids,
                                     const torch::Tensor& mask, std::vector<KvSlot>* cache, int64_t offset) {
  const auto [cos, sin] = rope(position_ids, embeds.scalar_type());
  torch::Tensor h = embeds;
  for (size_t i = 0; i < layers.size(); ++i) {
    DecoderLayer layer = layers[i];
    if (cache || !checkpointing) {
      h = layer->forward(h, cos, sin, mask, cache ? &(*cache)[i] : nullptr, offset);
      continue;
    }
    h = checkpointed([layer, cos, sin, mask](const torch::Tensor& in) mutable { return layer->forward(in, cos, sin, mask); },
                     h, *layer);
  }
  return norm(h);
}

Qwen2_5_VLImpl::Qwen2_5_VLImpl(const Config& c, const torch::TensorOptions& options) : config(c) {
  visual = register_module("visual", Vision(c.vision, options));
  model = register_module("model", TextModel(c.text, options));
  if (!c.tie_embeddings) lm_head = register_module("lm_head", Linear(c.text.hidden, c.text.vocab, false, options));
}

torch::Tensor Qwen2_5_VLImpl::embed(const torch::Tensor& ids, const torch::Tensor& pixel_values,
                                    const torch::Tensor& grid_thw) {
  torch::Tensor x = torch::embedding(model->embed_tokens, ids);
  if (!pixel_values.defined() || pixel_values.numel() == 0) return x;
  const torch::Tensor features = visual->forward(pixel_values, grid_thw).to(x.scalar_type());
  const torch::Tensor image_mask = ids == config.image_token_id;
  const int64_t slots = image_mask.sum().item<int64_t>();
  if (slots != features.size(0))
    throw_bad_input("qwen2_5_vl: the batch has " + std::to_string(slots) + " <|image_pad|> tokens but its images give " +
                    std::to_string(features.size(0)) + " image tokens");
  return x.masked_scatter(image_mask.unsqueeze(-1), features);
}

torch::Tensor Qwen2_5_VLImpl::logits(const torch::Tensor& hidden) {
  return lm_head ? lm_head(hidden) : torch::nn::functional::linear(hidden, model->embed_tokens);
}

torch::Tensor causal_mask(const torch::Tensor& attention_mask, torch::Dtype dtype) {
  const int64_t b = attention_mask.size(0), t = attention_mask.size(1);
  const auto dev = attention_mask.device();
  const torch::Tensor allowed =
      torch::ones({t, t}, torch::TensorOptions().dtype(torch::kBool).device(dev)).tril().unsqueeze(0) &
      attention_mask.to(torch::kBool).unsqueeze(1);
  return torch::zeros({b, t, t}, torch::TensorOptions().dtype(dtype).device(dev))
      .masked_fill_(allowed.logical_not(), mask_value(dtype))
      .unsqueeze(1);
}

torch::Tensor Qwen2_5_VLImpl::forward(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                                      const torch::Tensor& pixel_values, const torch::Tensor& grid_thw) {
  const torch::Device dev = model->embed_tokens.device();
  const torch::Tensor mask = attention_mask.defined() ? attention_mask : torch::ones_like(ids);
  const RopeIndex positions = rope_index(ids, mask, grid_thw, config);
  const torch::Tensor x = embed(ids.to(dev), pixel_values, grid_thw);
  const torch::Tensor h = model->forward(x, positions.position_ids, causal_mask(mask.to(dev), x.scalar_type()));
  return logits(h);
}

void Qwen2_5_VLImpl::init_weights() {
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    torch::Tensor t = p.value();
    const bool norm = name.find("norm") != std::string::npos || name.find("ln_q") != std::string::npos;
    if (norm) t.fill_(1.0);
    else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) t.zero_();
    else t.normal_(0.0, 0.02);
  }
}

}  // namespace mstar::qwen2_5_vl
