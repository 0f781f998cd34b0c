// backbone/qwen2_5_vl: Hugging Face checkpoints of Qwen2.5-VL, computed as
// transformers' Qwen2_5_VLForConditionalGeneration computes them (the
// equality test, tests/qwen2_5_vl_test.cpp, holds it to that).
//
//   config.cpp     config.json (nested text_config or the flat layout of
//                  the published checkpoints), preprocessor_config.json
//   processor.cpp  smart_resize, Pillow's bicubic resize, CLIP normalisation,
//                  patch flattening, <|image_pad|> expansion
//   rope.cpp       vision positions and windows, get_rope_index (3D M-RoPE)
//   vision.cpp     the vision tower and its 2x2 patch merger
//   decoder.cpp    the Qwen2 decoder and the language-model head
//   loader.cpp     weights from model.safetensors or its shards
//   lora.cpp       LoRA adapters on the Linear layers, in peft's layout (lora.h)
//   checkpoint.cpp gradient checkpointing of decoder layers and vision blocks
//   backbone.cpp   the ml::Backbone, registered as "qwen2_5_vl"
//
// Parameter names are those of the published checkpoints (visual.*,
// model.*, lm_head.*). Private to the plugin (and its test).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"

namespace mstar::qwen2_5_vl {

inline constexpr const char* kArchitecture = "qwen2_5_vl";

// ---- configuration ---------------------------------------------------------------

struct VisionConfig {
  int64_t depth = 32, hidden = 1280, intermediate = 3420, heads = 16, in_channels = 3;
  int64_t patch = 14, merge = 2, temporal_patch = 2, window = 112, out_hidden = 3584;
  int64_t tokens_per_second = 4;
  std::vector<int64_t> fullatt_blocks = {7, 15, 23, 31};
  double rope_theta = 10000.0;
  int64_t head_dim() const { return hidden / heads; }
  int64_t patch_dim() const { return in_channels * temporal_patch * patch * patch; }
};

struct TextConfig {
  int64_t vocab = 152064, hidden = 3584, intermediate = 18944, layers = 28, heads = 28, kv_heads = 4;
  int64_t max_positions = 128000;
  double rms_eps = 1e-6, rope_theta = 1000000.0;
  std::vector<int64_t> mrope_section = {16, 24, 24};
  int64_t head_dim() const { return hidden / heads; }
};

struct Config {
  VisionConfig vision;
  TextConfig text;
  bool tie_embeddings = false;
  int64_t image_token_id = 151655, video_token_id = 151656, vision_start_id = 151652, vision_end_id = 151653;
  std::vector<int64_t> eos_ids;
  int64_t pad_id = -1;  // -1: none given
};

// From a config.json; throws Error(BadInput) naming `origin` and the key.
Config config_from_json(const Json& j, const std::string& origin = "config.json");
// The nested layout transformers writes (model_type qwen2_5_vl).
Json to_json(const Config& c);

struct ProcessorConfig {
  int64_t min_pixels = 56 * 56, max_pixels = 28 * 28 * 1280;
  int64_t patch = 14, merge = 2, temporal_patch = 2;
  double rescale = 1.0 / 255.0;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};  // OpenAI CLIP
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
};
ProcessorConfig processor_from_json(const Json& j, const std::string& origin = "preprocessor_config.json");
Json to_json(const ProcessorConfig& p);

// ---- image processor (processor.cpp) -----------------------------------------------

// transformers' smart_resize: (height, width) as multiples of `factor` with
// min_pixels <= h*w <= max_pixels, aspect ratio kept as far as possible.
std::pair<int64_t, int64_t> smart_resize(int64_t height, int64_t width, int64_t factor, int64_t min_pixels,
                                         int64_t max_pixels);
// Pillow's Image.resize(..., BICUBIC) of a uint8 [H,W,3] image: separable
// fixed-point convolution, the kernel widened on downscale (antialiasing).
torch::Tensor resize_bicubic(const torch::Tensor& rgb, int64_t out_height, int64_t out_width);

struct ProcessedImages {
  torch::Tensor pixel_values;  // [sum of patches, C*T*P*P] float32
  torch::Tensor grid_thw;      // [images, 3] int64
  std::vector<int64_t> token_counts() const;  // image tokens per image (after the merger)
};
// uint8 [H,W,3] images, as Qwen2VLImageProcessor (use_fast=False) processes them.
ProcessedImages process_images(const std::vector<torch::Tensor>& images, const ProcessorConfig& config);
// A batch's images [B,3,H,W] in [0,1] (Batch::images) as uint8 [H,W,3] each.
std::vector<torch::Tensor> images_from_batch(const torch::Tensor& images);

// ---- positions (rope.cpp) -------------------------------------------------------------

// (h, w) of every patch in the order the processor flattens them [N,2].
torch::Tensor vision_position_ids(const torch::Tensor& grid_thw, int64_t merge);
// Window reordering of merged tokens and the cumulative window lengths in patches.
std::pair<torch::Tensor, std::vector<int64_t>> window_index(const torch::Tensor& grid_thw, const VisionConfig& v);
// Cumulative lengths of the frames (full attention segments), in patches.
std::vector<int64_t> frame_cu_seqlens(const torch::Tensor& grid_thw);

struct RopeIndex {
  torch::Tensor position_ids;  // [3,B,T] int64; 0 on padding
  torch::Tensor deltas;        // [B] int64: max position + 1 - real tokens
};
// transformers' get_rope_index for text and image tokens (CPU int64 inputs).
RopeIndex rope_index(const torch::Tensor& ids, const torch::Tensor& attention_mask, const torch::Tensor& grid_thw,
                     const Config& config);

// Rotary embedding's half rotation, (x1, x2) -> (-x2, x1), as transformers
// applies it in both the vision tower and the decoder.
torch::Tensor rotate_half(const torch::Tensor& x);

// ---- modules (vision.cpp, decoder.cpp) ---------------------------------------------------

// Parameters are created empty in `options` (dtype, device) and filled by
// the loader, or by init_weights() for a fresh model.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

struct LoraAdapter;  // lora.h

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in, int64_t out, bool bias, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  // Set by add_adapters() (lora.h): its weights are this module's lora_A.weight and lora_B.weight.
  std::shared_ptr<LoraAdapter> adapter;
};
TORCH_MODULE(Linear);

class GatedMlpImpl : public torch::nn::Module {
 public:
  GatedMlpImpl(int64_t dim, int64_t hidden, bool bias, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(GatedMlp);

class VisionBlockImpl : public torch::nn::Module {
 public:
  VisionBlockImpl(const VisionConfig& v, const torch::TensorOptions& options);
  // x [N,D]; cos/sin [N,head_dim] float32; attention within each segment of cu_seqlens.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const std::vector<int64_t>& cu_seqlens);
  int64_t heads;
  RMSNorm norm1{nullptr}, norm2{nullptr};
  Linear qkv{nullptr}, proj{nullptr};  // registered under "attn."
  GatedMlp mlp{nullptr};
};
TORCH_MODULE(VisionBlock);

class VisionImpl : public torch::nn::Module {
 public:
  VisionImpl(const VisionConfig& v, const torch::TensorOptions& options);
  // pixel_values [N, patch_dim], grid_thw [images,3] -> image tokens [N/merge^2, out_hidden].
  torch::Tensor forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw);
  VisionConfig config;
  torch::Tensor patch_weight;  // patch_embed.proj.weight [D,C,T,P,P]: the Conv3d, applied as a matmul
  std::vector<VisionBlock> blocks;
  bool checkpointing = false;  // blocks recomputed in backward (checkpoint.h)
  RMSNorm ln_q{nullptr};       // merger.ln_q
  Linear mlp0{nullptr}, mlp2{nullptr};  // merger.mlp.0, merger.mlp.2
};
TORCH_MODULE(Vision);

// Keys and values of one layer: [B, kv_heads, capacity, head_dim].
struct KvSlot {
  torch::Tensor k, v;
};

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const TextConfig& t, const torch::TensorOptions& options);
  // x [B,T,D]; cos/sin [B,T,head_dim]; mask additive [B,1,T,S]. With a cache,
  // this call's keys/values go to [offset, offset+T) and attention spans [0, offset+T).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& mask, KvSlot* cache = nullptr, int64_t offset = 0);
  int64_t heads, kv_heads;
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};  // under "self_attn."
  GatedMlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

class TextModelImpl : public torch::nn::Module {
 public:
  TextModelImpl(const TextConfig& t, const torch::TensorOptions& options);
  // position_ids [3,B,T] -> (cos, sin) [B,T,head_dim] in `dtype`, sections of M-RoPE interleaved.
  std::pair<torch::Tensor, torch::Tensor> rope(const torch::Tensor& position_ids, torch::Dtype dtype) const;
  torch::Tensor forward(const torch::Tensor& embeds, const torch::Tensor& position_ids, const torch::Tensor& mask,
                        std::vector<KvSlot>* cache = nullptr, int64_t offset = 0);
  TextConfig config;
  torch::Tensor embed_tokens;  // embed_tokens.weight [V,D]
  std::vector<DecoderLayer> layers;
  bool checkpointing = false;  // layers recomputed in backward when there is no cache (checkpoint.h)
  RMSNorm norm{nullptr};
};
TORCH_MODULE(TextModel);

class Qwen2_5_VLImpl : public torch::nn::Module {
 public:
  Qwen2_5_VLImpl(const Config& c, const torch::TensorOptions& options);
  // Token embeddings with image tokens scattered over the <|image_pad|> ids.
  torch::Tensor embed(const torch::Tensor& ids, const torch::Tensor& pixel_values, const torch::Tensor& grid_thw);
  torch::Tensor logits(const torch::Tensor& hidden);
  // Logits [B,T,V] of a padded batch (positions from rope_index).
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& pixel_values, const torch::Tensor& grid_thw);
  // Random init as transformers does it (normal(0, 0.02), zero biases, unit norms).
  void init_weights();
  Config config;
  Vision visual{nullptr};
  TextModel model{nullptr};
  Linear lm_head{nullptr};  // absent when tied
};
TORCH_MODULE(Qwen2_5_VL);

// Additive causal + key-padding mask [B,1,T,T] (lowest finite value where
// masked, so that padding rows stay finite).
torch::Tensor causal_mask(const torch::Tensor& attention_mask, torch::Dtype dtype);
double mask_value(torch::Dtype dtype);  // the lowest finite value

// ---- loading (loader.cpp) ------------------------------------------------------------------

// Checkpoint names of other layouts (transformers >= 4.52 writes
// model.language_model.*, model.visual.*) mapped onto this model's.
std::string canonical_name(const std::string& checkpoint_name);
// A checkpoint directory (config.json, model.safetensors or its shards)
// loaded straight into `dtype` on `device`.
Qwen2_5_VL load_model(const std::filesystem::path& dir, torch::Device device, torch::Dtype dtype);

// ---- the Backbone (backbone.cpp) -------------------------------------------------------------

std::unique_ptr<ml::Backbone> make_backbone(Config config, ProcessorConfig processor, ml::Tokenizer tokenizer,
                                            Qwen2_5_VL model);
// Incremental decoding of processed inputs (what the Backbone's prefill and
// decode_step run after the image processor): prompts left-padded.
std::unique_ptr<ml::DecodeState> prefill(Qwen2_5_VL& model, const torch::Tensor& token_ids, const torch::Tensor& attention_mask,
                                         const ProcessedImages& images, int64_t max_new_tokens, torch::Tensor& last_logits);
torch::Tensor decode_step(Qwen2_5_VL& model, ml::DecodeState& state, const torch::Tensor& tokens);
// LoRA adapters as peft's LoraConfig describes them (lora.h).
struct LoraOptions {
  int64_t rank = 0;      // r; 0: no adapters
  double alpha = 8.0;    // lora_alpha: the update is scaled by alpha / rank (peft's default 8)
  double dropout = 0.0;  // lora_dropout on the adapter's input, in training
  // Module names matched as peft matches a list: the name or its last dot-separated components.
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  std::string init = "default";  // peft's init_lora_weights: "default" (A kaiming-uniform) or "gaussian"; B zeros
  std::string base;              // base_model_name_or_path written to adapter_config.json
};

// What a user sets on top of the checkpoint; 0 keeps the checkpoint's value.
struct BackboneOptions {
  int64_t image_size = 0;  // side of the square batch images (config "image_size", else 448)
  int64_t min_pixels = 0, max_pixels = 0;  // the processor's bounds (preprocessor_config.json)
  bool freeze_vision = false;              // requires_grad off on the vision tower (not the merger)
  bool gradient_checkpointing = false;     // recompute decoder layers and vision blocks in backward
  LoraOptions lora;                        // rank > 0: fresh adapters on the base, which is frozen
};
// BackboneOptions from the user's keys (backbone/load's `options`):
// image_size, min_pixels, max_pixels, gradient_checkpointing,
// lora_rank, lora_alpha, lora_dropout, lora_target_modules, lora_init.
// Unknown keys and wrong types are Error(BadInput) naming `origin` and the key.
BackboneOptions backbone_options_from_json(const Json& j, const std::string& origin);
// A Hugging Face directory; its tokenizer.json is not read (the tokenizer is given).
std::unique_ptr<ml::Backbone> load_backbone(const std::filesystem::path& dir, ml::Tokenizer tokenizer,
                                            const ml::LoadOptions& options = {}, const BackboneOptions& extra = {});

}  // namespace mstar::qwen2_5_vl
