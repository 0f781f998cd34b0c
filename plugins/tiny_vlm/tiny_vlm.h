// backbone/tiny_vlm: small vision-language models shaped like the real ones.
//
//   family qwen  — Qwen2.5-VL-like: ViT over patches with 2D RoPE, RMSNorm,
//                  SwiGLU; a 2x2 patch merger MLP; decoder LM.
//   family llava — LLaVA-like: CLIP-style ViT (class token, learned absolute
//                  positions, LayerNorm, GELU MLP); two-layer GELU projector;
//                  the same decoder LM.
//   decoder      — Qwen2-like: RoPE, RMSNorm, SwiGLU, grouped-query
//                  attention, tied embeddings optional.
//
// Parameter names follow Hugging Face (visual.blocks.N..., model.layers.N...,
// vision_tower..., multi_modal_projector...), with q/k/v and gate/up fused
// into one matrix each (qkv_proj, gate_up_proj) to halve per-token kernel
// launches when sampling. Private to the plugin.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/tokenizer.h"

namespace mstar::tiny_vlm {

enum class Family { Qwen, Llava };
std::string to_string(Family family);
Family family_from_string(const std::string& name);  // throws BadInput

struct VisionOptions {
  VisionOptions(int64_t hidden, int64_t layers, int64_t heads) : hidden_(hidden), layers_(layers), heads_(heads) {}
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, layers);
  TORCH_ARG(int64_t, heads);
  // MLP width; 0 = family default (SwiGLU: 8/3 * hidden rounded up to 8; GELU: 4 * hidden).
  TORCH_ARG(int64_t, intermediate) = 0;
  TORCH_ARG(double, rope_theta) = 10000.0;  // 2D RoPE (qwen)
  TORCH_ARG(double, norm_eps) = 1e-6;
};

struct TextOptions {
  TextOptions(int64_t vocab_size, int64_t hidden, int64_t layers, int64_t heads)
      : vocab_size_(vocab_size), hidden_(hidden), layers_(layers), heads_(heads) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, layers);
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(int64_t, kv_heads) = 0;      // grouped-query attention; 0 = heads
  TORCH_ARG(int64_t, intermediate) = 0;  // SwiGLU width; 0 = 8/3 * hidden rounded up to 8
  TORCH_ARG(int64_t, max_positions) = 1024;
  TORCH_ARG(double, rope_theta) = 10000.0;
  TORCH_ARG(double, norm_eps) = 1e-6;
  TORCH_ARG(bool, tie_embeddings) = true;
  // Embedding init std; 0 = 1/sqrt(hidden), which with tied embeddings puts
  // initial logits at unit scale (N(0,1) saturates the softmax).
  TORCH_ARG(double, embed_std) = 0.0;
  // Inputs multiplied by sqrt(hidden) (Gemma): token vectors then have unit
  // RMS per component, the scale image tokens are calibrated to.
  TORCH_ARG(bool, scale_embeddings) = true;
};

struct TinyVlmOptions {
  TinyVlmOptions(Family family, VisionOptions vision, TextOptions text)
      : family_(family), vision_(std::move(vision)), text_(std::move(text)) {}
  TORCH_ARG(Family, family);
  TORCH_ARG(VisionOptions, vision);
  TORCH_ARG(TextOptions, text);
  TORCH_ARG(int64_t, image_size) = 64;
  TORCH_ARG(int64_t, patch_size) = 8;
  TORCH_ARG(int64_t, merge_size) = 2;  // qwen: merge_size x merge_size patches -> one token
  TORCH_ARG(int64_t, image_token_id) = 4;
  // Seed of the random images used to bring image tokens to the text scale at init.
  TORCH_ARG(uint64_t, calibration_seed) = 0x5eed;
};

// Widths after defaults are applied.
int64_t vision_intermediate(const TinyVlmOptions& o);
int64_t text_intermediate(const TinyVlmOptions& o);
int64_t kv_heads(const TinyVlmOptions& o);
int64_t patches_per_side(const TinyVlmOptions& o);
int64_t image_token_count(const TinyVlmOptions& o);
// Checks dims (divisibility, head sizes); throws Error(BadInput).
void validate(const TinyVlmOptions& o);

Json to_json(const TinyVlmOptions& o);
// From config.json. A "size" (S, M, L) supplies every dim the config does not
// give, so {"family": "qwen", "size": "M", "text_config": {"vocab_size": V}}
// is a complete config. Throws BadInput naming the key.
TinyVlmOptions options_from_json(const Json& config);

// Parameter counts computed from the dims alone (for `plugins info`).
struct ParamCounts {
  int64_t vision = 0, projector = 0, language = 0;
  int64_t total() const { return vision + projector + language; }
};
ParamCounts count_parameters(const TinyVlmOptions& o);

// Named size presets S, M, L for a vocabulary size.
TinyVlmOptions preset(Family family, const std::string& size, int64_t vocab_size);

// ---- modules ------------------------------------------------------------------

// Shared by the layers of modules.cpp and the vision towers of vision.cpp.
namespace detail {
// LeCun normal: std = scale / sqrt(fan_in); biases 0.
void init_linear(const torch::nn::Linear& layer, double scale = 1.0);
// Rotates the pairs (x[2i], x[2i+1]) of x [B,T,N,hd] by complex factors
// broadcastable to [B,T,N,hd/2], in float32 math.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& factors);
// Per-head rotation factors [.., heads + kv_heads, hd/2]; the query heads
// also carry the attention scale.
torch::Tensor head_factors(const torch::Tensor& base, int64_t heads, int64_t kv_heads, double scale);
// Complex factors exp(i * angles).
torch::Tensor polar_unit(const torch::Tensor& angles);
}  // namespace detail

// x * rsqrt(mean(x^2) + eps) * weight over the last dim, in float32 math
// (kernels.cpp: one fused pass each way for float32 on the CPU).
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  void reset_parameters();
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// x + attention; one fused projection for q, k and v.
struct AttentionOptions {
  AttentionOptions(int64_t dim, int64_t heads) : dim_(dim), heads_(heads), kv_heads_(heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(int64_t, kv_heads);
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(bool, out_bias) = false;
};

// Preallocated keys and values of one layer: [B, kv_heads, capacity, head_dim].
struct KvSlot {
  torch::Tensor k, v;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const AttentionOptions& options);
  void reset_parameters(double out_std_scale);
  // x [B,T,D]. rope: complex [B|1, T, heads + kv_heads, head_dim/2] rotation
  // factors that also carry the 1/sqrt(head_dim) query scale (see
  // head_factors); undefined = no rotary embedding. mask: additive
  // [B|1, 1, T, S], or undefined: then causal (a lower-triangular mask) or
  // none. cache: write this call's keys/values at [offset, offset+T) and
  // attend over [0, offset+T). Attention is torch's
  // scaled_dot_product_attention (fused kernels on CPU and GPU).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& rope, const torch::Tensor& mask,
                        KvSlot* cache = nullptr, int64_t offset = 0, bool causal = false);
  AttentionOptions options;
  torch::nn::Linear qkv_proj{nullptr}, o_proj{nullptr};
};
TORCH_MODULE(Attention);

class SwiGluImpl : public torch::nn::Module {
 public:
  SwiGluImpl(int64_t dim, int64_t hidden, bool bias);
  void reset_parameters(double out_std_scale);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(SwiGlu);

class GeluMlpImpl : public torch::nn::Module {
 public:
  GeluMlpImpl(int64_t dim, int64_t hidden);
  void reset_parameters(double out_std_scale);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(GeluMlp);

// Pre-norm block of the LM and of the qwen ViT: RMSNorm, attention, RMSNorm, SwiGLU.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const AttentionOptions& attention, int64_t intermediate, bool mlp_bias, double eps);
  void reset_parameters(double out_std_scale);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& rope, const torch::Tensor& mask,
                        KvSlot* cache = nullptr, int64_t offset = 0, bool causal = false);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  SwiGlu mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// CLIP encoder layer: LayerNorm, attention (biases), LayerNorm, GELU MLP.
class ClipLayerImpl : public torch::nn::Module {
 public:
  ClipLayerImpl(int64_t dim, int64_t heads, int64_t intermediate);
  void reset_parameters(double out_std_scale);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  Attention self_attn{nullptr};
  GeluMlp mlp{nullptr};
};
TORCH_MODULE(ClipLayer);

// Qwen's patch merger (the projector): RMSNorm, merge x merge neighbouring
// patches concatenated, Linear -> GELU -> Linear into the text width.
class PatchMergerImpl : public torch::nn::Module {
 public:
  PatchMergerImpl(int64_t vision_hidden, int64_t text_hidden, int64_t merge_size, double eps);
  void reset_parameters();
  // x [B, g*g, vision hidden] in raster order -> [B, (g/merge)^2, text hidden].
  torch::Tensor forward(const torch::Tensor& x, int64_t grid);
  torch::nn::Linear output_layer();
  int64_t merge_size;
  RMSNorm ln_q{nullptr};
  torch::nn::Sequential mlp{nullptr};
};
TORCH_MODULE(PatchMerger);

// Qwen-style vision tower with its patch merger.
class QwenVisionImpl : public torch::nn::Module {
 public:
  explicit QwenVisionImpl(const TinyVlmOptions& options);
  void reset_parameters();
  // Pixels normalised to [-1, 1] [B,3,S,S] -> image tokens [B, N/merge^2, text hidden].
  torch::Tensor forward(const torch::Tensor& pixels);
  void build_tables(torch::Device device);

  TinyVlmOptions options;
  torch::nn::Linear patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  PatchMerger merger{nullptr};
  std::vector<DecoderLayer> block_list;
  torch::Tensor rope;  // fixed 2D rotation factors of the patch grid (not a parameter)
};
TORCH_MODULE(QwenVision);

// CLIP-style vision tower; the projector is separate (LLaVA).
class ClipVisionImpl : public torch::nn::Module {
 public:
  explicit ClipVisionImpl(const TinyVlmOptions& options);
  void reset_parameters();
  // Pixels [B,3,S,S] -> patch features [B, N, vision hidden] (class token dropped).
  torch::Tensor forward(const torch::Tensor& pixels);

  TinyVlmOptions options;
  torch::nn::Linear patch_embedding{nullptr};
  torch::Tensor class_embedding, position_embedding;
  torch::nn::LayerNorm pre_layrnorm{nullptr};
  torch::nn::ModuleList layers{nullptr};
  std::vector<ClipLayer> layer_list;
};
TORCH_MODULE(ClipVision);

class LlavaProjectorImpl : public torch::nn::Module {
 public:
  LlavaProjectorImpl(int64_t vision_hidden, int64_t text_hidden);
  void reset_parameters();
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(LlavaProjector);

// The decoder stack: embeddings, layers, final norm.
class TextModelImpl : public torch::nn::Module {
 public:
  explicit TextModelImpl(const TextOptions& options, int64_t kv_heads, int64_t intermediate);
  void reset_parameters();
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& rope, const torch::Tensor& mask,
                        std::vector<KvSlot>* cache = nullptr, int64_t offset = 0, bool causal = false);
  TextOptions options;
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};

 private:
  std::vector<DecoderLayer> layer_list_;  // the same layers, without a cast per call
};
TORCH_MODULE(TextModel);

class TinyVlmImpl : public torch::nn::Module {
 public:
  explicit TinyVlmImpl(const TinyVlmOptions& options);
  // Initialises every parameter (std per layer, see docs/backbones.md) and
  // calibrates image tokens to the text-token scale.
  void reset_parameters();
  // Rebuilds the rotary tables on `device` (after moving the module).
  void build_tables(torch::Device device);

  // Image tokens [B, image_token_count, text hidden] for images [B,3,S,S] in [0,1].
  torch::Tensor image_features(const torch::Tensor& images);
  // Token embeddings alone (scaled); <image> ids get their plain embedding.
  torch::Tensor embed_text(const torch::Tensor& token_ids);
  // Token embeddings with image features scattered over the <image>
  // placeholders. image_index [B] (optional): row i shows
  // images[image_index[i]], and each image's features are computed once.
  torch::Tensor embed(const torch::Tensor& token_ids, const torch::Tensor& images,
                      const torch::Tensor& image_index = {});
  // Rotation factors for positions [B,T] (query scale folded in).
  torch::Tensor text_rope(const torch::Tensor& positions);
  torch::Tensor lm_logits(const torch::Tensor& hidden);
  // Logits [B,T,V] of a padded batch.
  torch::Tensor forward(const torch::Tensor& token_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& images, const torch::Tensor& image_index = {});

  // RMS of the image tokens on random images (what calibration aims at 1).
  double image_token_rms(int64_t count = 8);
  double text_token_rms();

  TinyVlmOptions options;
  QwenVision visual{nullptr};
  ClipVision vision_tower{nullptr};
  LlavaProjector multi_modal_projector{nullptr};
  TextModel model{nullptr};
  torch::nn::Linear lm_head{nullptr};
  torch::Tensor rope_table;  // complex64 [max_positions, head_dim/2]

 private:
  torch::nn::Linear output_projection();
};
TORCH_MODULE(TinyVlm);

// Additive mask value of a dtype (its lowest finite number).
double mask_value(torch::Dtype dtype);

// ---- the Backbone --------------------------------------------------------------

inline constexpr const char* kArchitecture = "tiny_vlm";

// A freshly initialised backbone (init draws from torch's default generator).
// The tokenizer must match: vocab_size == tokenizer.size() and the image
// token id is the tokenizer's <image>.
std::unique_ptr<ml::Backbone> make_backbone(TinyVlmOptions options, ml::Tokenizer tokenizer);
// The registry factory: options from config.json.
std::unique_ptr<ml::Backbone> make_backbone_from_config(const Json& config, ml::Tokenizer tokenizer);

}  // namespace mstar::tiny_vlm
