// backbone/tiny_fuyu: a third backbone family, written out of tree against
// the installed mstar package (docs/new-architecture.md walks through it).
//
// Fuyu-style: there is no vision encoder. An image is cut into patches, each
// patch is flattened and linearly projected into the decoder's width, and
// those vectors take the place of the <image> placeholders in the token
// stream. One causal decoder then reads image and text alike.
//
//   pixels [B,3,S,S] -> patches [B,N,3*p*p] -> vision_embed_tokens -> [B,N,D]
//   token ids [B,T]  -> embed_tokens, image tokens scattered over <image>
//                    -> + embed_positions -> layers -> final_layernorm -> lm_head
//
// Tensor names follow Hugging Face's Fuyu/Persimmon (vision_embed_tokens,
// self_attn.query_key_value, self_attn.dense, mlp.dense_h_to_4h, ...), so a
// reader who knows those models finds their way. Only mstar/... headers of
// the installed package and LibTorch are used.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "mstar/json.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/tokenizer.h"

namespace tiny_fuyu {

// The registry key, written to config.json as "architecture". It must be
// unique in a process: another library registering "tiny_fuyu" is refused.
inline constexpr const char* kArchitecture = "tiny_fuyu";

// LibTorch's Options idiom: required dims in the constructor, the rest
// defaulted. These are the fields of config.json's text_config.
struct TinyFuyuOptions {
  TinyFuyuOptions(int64_t vocab_size, int64_t hidden, int64_t layers, int64_t heads)
      : vocab_size_(vocab_size), hidden_(hidden), layers_(layers), heads_(heads) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, hidden);
  TORCH_ARG(int64_t, layers);
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(int64_t, intermediate) = 0;  // MLP width; 0 = 4 x hidden
  TORCH_ARG(int64_t, image_size) = 64;   // square images, pixels per side
  TORCH_ARG(int64_t, patch_size) = 8;    // one image token per patch
  // Longest sequence, image tokens included (learned absolute positions).
  TORCH_ARG(int64_t, max_positions) = 512;
  TORCH_ARG(int64_t, image_token_id) = 4;  // the tokenizer's <image>
  TORCH_ARG(double, norm_eps) = 1e-5;
};

int64_t intermediate(const TinyFuyuOptions& o);       // after the default
int64_t image_token_count(const TinyFuyuOptions& o);  // (S / p)^2 patches
// Throws mstar::Error(BadInput) naming the offending dim.
void validate(const TinyFuyuOptions& o);
// config.json (Hugging Face names) and back. from_json throws BadInput
// naming a missing or mistyped key.
mstar::Json to_json(const TinyFuyuOptions& o);
TinyFuyuOptions options_from_json(const mstar::Json& config);

// ---- modules ------------------------------------------------------------------

// Causal self-attention with one fused q/k/v projection.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t hidden, int64_t heads);
  // x [B,T,D]; bias [B,1,T,T] additive (0 or -inf).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias);
  int64_t heads;
  torch::nn::Linear query_key_value{nullptr}, dense{nullptr};
};
TORCH_MODULE(Attention);

// Two-layer GELU MLP.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t intermediate);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear dense_h_to_4h{nullptr}, dense_4h_to_h{nullptr};
};
TORCH_MODULE(Mlp);

// Pre-LayerNorm block: x + attention(LN(x)), then x + MLP(LN(x)).
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const TinyFuyuOptions& o);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& bias);
  torch::nn::LayerNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

class TinyFuyuImpl : public torch::nn::Module {
 public:
  explicit TinyFuyuImpl(const TinyFuyuOptions& o);
  // Draws every weight (see the comments in model.cpp for the scales).
  void reset_parameters();
  // Image tokens [B, N, D] of images [B,3,S,S] in [0,1].
  torch::Tensor embed_image(const torch::Tensor& images);
  // Token vectors [B,T,D] with each row's first N <image> ids replaced by
  // its image tokens. Later <image> ids (a policy may sample one) keep their
  // plain embedding, so generated text never needs an image.
  torch::Tensor embed(const torch::Tensor& token_ids, const torch::Tensor& images);
  // Logits [B,T,V]; mask [B,T] int64 (1 = token); padding on either side.
  torch::Tensor forward(const torch::Tensor& token_ids, const torch::Tensor& mask, const torch::Tensor& images);

  TinyFuyuOptions options;
  torch::nn::Linear vision_embed_tokens{nullptr};
  torch::nn::Embedding embed_tokens{nullptr}, embed_positions{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm final_layernorm{nullptr};
  torch::nn::Linear lm_head{nullptr};
};
TORCH_MODULE(TinyFuyu);

// ---- the Backbone ----------------------------------------------------------------

// A freshly initialised backbone (draws from torch's default generator: seed
// it first). vocab_size must be tokenizer.size().
std::unique_ptr<mstar::ml::Backbone> make_backbone(TinyFuyuOptions options, mstar::ml::Tokenizer tokenizer);
// The registry factory (MSTAR_REGISTER_BACKBONE): dims from config.json.
std::unique_ptr<mstar::ml::Backbone> make_backbone_from_config(const mstar::Json& config,
                                                               mstar::ml::Tokenizer tokenizer);

}  // namespace tiny_fuyu
