// A vision-language backbone as algorithms and benchmarks see it: a
// torch::nn::Module behind an abstract interface, with its own tokenizer,
// chat template and image processing, batched forward, scoring for
// trainers, KV-cached sampling and Hugging Face-layout checkpoints.
//
// Families live in backbone plugins and register themselves in the
// BackboneRegistry (mstar/ml/registry.h); a consumer never names a family:
//
//   auto model = mstar::ml::load_backbone(*ctx.input("model"));
//   Batch prompts = pad_batch({model->build_prompt(system, problem)}, model->pad_token_id(), PadSide::Left);
//   prompts.images = images;                                   // [B,3,H,W] in [0,1]
//   Generation g = model->generate(prompts, {.max_new_tokens = 48, .temperature = 1.0});
//   SequenceBatch seq = append_generation(prompts, g);
//   TokenScores s = model->score(seq.batch, {.temperature = 1.0});   // s.logprobs [B,T]
//
// Token layout: position t of a [B,T] batch holds token x_t; scores at t
// are about x_t given x_<t (so they line up with token ids and masks).
// Padding may be on either side: position ids count real tokens only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "mstar/json.h"
#include "mstar/ml/sampling.h"
#include "mstar/ml/tokenizer.h"

namespace mstar::ml {

// The files of a checkpoint directory.
inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kTokenizerFile = "tokenizer.json";
inline constexpr const char* kOptimizerFile = "optimizer.pt";

// Parameter groups, so that a trainer can freeze the vision tower.
enum class ParamGroup { Vision, Projector, Language };
std::string_view to_string(ParamGroup group) noexcept;
inline constexpr ParamGroup kParamGroups[] = {ParamGroup::Vision, ParamGroup::Projector, ParamGroup::Language};

struct Batch {
  torch::Tensor images;          // [B,3,H,W] float in [0,1]; undefined for text only
  torch::Tensor token_ids;       // [B,T] int64
  torch::Tensor attention_mask;  // [B,T] int64 (1 = token, 0 = padding); undefined = all tokens
  // [B] int64: row i shows images[image_index[i]], so the n samples of one
  // prompt share one image and its features are computed once (GRPO
  // rollouts). Undefined = row i shows images[i].
  torch::Tensor image_index;
  int64_t size() const { return token_ids.size(0); }
  int64_t width() const { return token_ids.size(1); }
};

enum class PadSide { Left, Right };

// Pads id sequences into a batch (no images).
Batch pad_batch(const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id, PadSide side);

// Prompt + response sequences for scoring and training. Prompts are
// left-padded and responses right-padded, so every response starts in
// column prompt_width (the layout verl uses).
struct SequenceBatch {
  Batch batch;
  torch::Tensor response_mask;  // [B,T] int64: 1 on response tokens
  int64_t prompt_width = 0;
};
SequenceBatch pack_sequences(const std::vector<std::vector<int64_t>>& prompts,
                             const std::vector<std::vector<int64_t>>& responses, int64_t pad_id);
// The sequences a generate() call produced, images carried over.
SequenceBatch append_generation(const Batch& prompts, const Generation& generation);

struct ScoreOptions {
  double temperature = 1.0;
  bool entropies = false;
  // Also return the full log-softmax [B,T,V] (exact KL over the vocabulary).
  bool log_distribution = false;
};

struct TokenScores {
  torch::Tensor logprobs;          // [B,T] float32: log p(x_t | x_<t); 0 at t = 0 and on padding
  torch::Tensor entropies;         // [B,T] float32: entropy of that distribution (if requested)
  torch::Tensor log_distribution;  // [B,T,V] float32: the distribution itself (if requested); 0 at t = 0
};

// Where incremental decoding stands (KV caches, positions); backbone-specific.
class DecodeState {
 public:
  virtual ~DecodeState();
};

// Restores torch's default CPU generator on scope exit, so that building a
// model whose random init is then overwritten (load, clone) leaves the
// caller's random stream as it was.
class DefaultRngGuard {
 public:
  DefaultRngGuard();
  ~DefaultRngGuard();
  DefaultRngGuard(const DefaultRngGuard&) = delete;
  DefaultRngGuard& operator=(const DefaultRngGuard&) = delete;

 private:
  torch::Tensor state_;
};

// Overrides applied when loading a checkpoint; empty = keep the config's.
struct LoadOptions {
  std::string device;  // "cpu", "cuda", "cuda:1"
  std::string dtype;   // "float32", "bfloat16", "float16"
  // Where else to look for the family's library (find_plugin_library()).
  std::vector<std::filesystem::path> plugin_dirs;
  // Family-specific options (qwen2_5_vl: LoRA, gradient checkpointing, pixel
  // bounds; docs/qwen2_5_vl.md), handed to the family's loader as given.
  Json backbone_options = Json::object();
};

class Backbone {
 public:
  Backbone() = default;
  Backbone(const Backbone&) = delete;
  Backbone& operator=(const Backbone&) = delete;
  virtual ~Backbone();

  // ---- identity -----------------------------------------------------------
  // Registry key, written to config.json as "architecture".
  virtual std::string architecture() const = 0;
  // Everything besides weights and tokenizer that the architecture's factory
  // needs to rebuild this model (dims, family, image size, device, dtype).
  virtual Json config() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;

  // ---- parameters and placement ---------------------------------------------
  virtual torch::nn::Module& module() = 0;
  virtual const torch::nn::Module& module() const = 0;
  virtual ParamGroup group_of(const std::string& parameter_name) const = 0;
  std::vector<torch::Tensor> parameters() const;
  std::vector<torch::Tensor> parameters(ParamGroup group) const;
  int64_t parameter_count() const;
  int64_t parameter_count(ParamGroup group) const;
  // requires_grad on a whole group (freeze_vision: set_trainable(Vision, false)).
  void set_trainable(ParamGroup group, bool trainable);
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const;
  torch::Device device() const;
  torch::Dtype dtype() const;
  // Moves parameters and internal tables.
  virtual void to(torch::Device device, torch::Dtype dtype) = 0;

  // ---- processor and chat template ------------------------------------------
  virtual int64_t image_size() const = 0;         // forward expects [B,3,S,S]
  virtual int64_t image_token_count() const = 0;  // placeholders per image in a prompt
  // The prompt up to the start of the assistant turn. `user` may hold
  // <image> where the image goes (expanded to image_token_count()
  // placeholders); without one the image goes before the text. With
  // with_image = false, <image> in the text is an error.
  virtual std::vector<int64_t> build_prompt(std::string_view system, std::string_view user,
                                            bool with_image = true) const = 0;
  // Response tokens, closed with the end-of-turn token when end_turn.
  virtual std::vector<int64_t> encode_response(std::string_view text, bool end_turn = true) const = 0;
  // Response text of generated ids: stops at the first stop token, drops specials
  // that are not part of the answer format (pad, end of turn).
  virtual std::string decode_response(const std::vector<int64_t>& ids) const = 0;
  virtual std::vector<int64_t> stop_token_ids() const = 0;
  virtual int64_t pad_token_id() const { return tokenizer().pad_id(); }
  // Whether forward() and prefill() take a Batch's image_index themselves
  // (computing each image's features once); for a backbone that does not,
  // score() and generate() expand the images first (with_row_images).
  virtual bool takes_image_index() const { return false; }

  // ---- compute ----------------------------------------------------------------
  // Logits [B,T,V] (the model's dtype). Position t predicts x_{t+1}.
  virtual torch::Tensor forward(const Batch& batch) = 0;
  // Per-token log-probs (and entropies, log-distributions) of the batch's own
  // tokens under softmax(logits / temperature), differentiable.
  TokenScores score(const Batch& batch, const ScoreOptions& options = {});
  // Batched sampling with a preallocated KV cache; prompts must be
  // left-padded (pad_batch(..., PadSide::Left)). Runs without autograd.
  virtual Generation generate(const Batch& prompts, const SamplingOptions& options);
  // Incremental decoding, which generate() is built on: prefill runs the
  // prompts, reserves room for max_new_tokens and returns the logits [B,V]
  // of the last prompt position; decode_step feeds one token per sequence
  // [B] and returns the next logits [B,V].
  virtual std::unique_ptr<DecodeState> prefill(const Batch& prompts, int64_t max_new_tokens,
                                               torch::Tensor& last_logits) = 0;
  virtual torch::Tensor decode_step(DecodeState& state, const torch::Tensor& tokens) = 0;

  // ---- persistence ---------------------------------------------------------------
  // A deep copy (a frozen reference model): same weights, independent storage.
  virtual std::unique_ptr<Backbone> clone() const = 0;
  // Writes model.safetensors, config.json (config() plus "architecture" and
  // "plugin_library", the library that registered the architecture) and
  // tokenizer.json into `dir` (created if needed).
  void save(const std::filesystem::path& dir) const;
  // Named tensors saved in model.safetensors (parameters and persistent
  // buffers). The default takes the module's.
  virtual std::vector<std::pair<std::string, torch::Tensor>> state() const;
  // Copies weights from a checkpoint's model.safetensors (strict).
  void load_weights(const std::filesystem::path& file);
  // Same as load_backbone(dir, options).
  static std::unique_ptr<Backbone> load(const std::filesystem::path& dir, const LoadOptions& options = {});
};

// `batch` with one image per row (images[image_index[i]] at row i, image_index
// cleared) unless `model` takes image_index itself: what to hand forward()
// or prefill() when calling them directly.
Batch with_row_images(const Backbone& model, const Batch& batch);

// Loads a checkpoint directory through the registry (see registry.h).
std::unique_ptr<Backbone> load_backbone(const std::filesystem::path& dir, const LoadOptions& options = {});

}  // namespace mstar::ml
