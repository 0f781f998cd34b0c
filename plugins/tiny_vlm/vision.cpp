// The vision towers (Qwen2-VL-like with a 2x2 patch merger, CLIP-like with a
// LLaVA projector); the shared layers live in modules.cpp.
#include <cmath>

#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

using detail::head_factors;
using detail::init_linear;
using detail::polar_unit;

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

}  // namespace mstar::tiny_vlm
