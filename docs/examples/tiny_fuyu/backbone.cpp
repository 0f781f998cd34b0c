// tiny_fuyu as an mstar::ml::Backbone: chat template, batched forward,
// decoding, clone; registered as architecture "tiny_fuyu". Algorithms and
// benchmarks only ever see this interface (mstar/ml/backbone.h).
#include <algorithm>

#include "mstar/error.h"
#include "mstar/ml/module_util.h"
#include "mstar/ml/registry.h"
#include "tiny_fuyu.h"

namespace tiny_fuyu {

namespace ml = mstar::ml;
using mstar::Json;
using mstar::throw_bad_input;

namespace {

// What decoding carries from one step to the next. This simple version keeps
// the token ids and recomputes the whole sequence at every step: O(T) work
// per new token becomes O(T^2), but there is no per-layer key/value cache to
// allocate, fill and mask (tiny_vlm's prefill/decode_step show that). Fine
// for a teaching example and short answers; write a KV cache before using
// long responses.
struct RecomputeState final : ml::DecodeState {
  torch::Tensor token_ids;  // [B,T] prompt + tokens decoded so far
  torch::Tensor mask;       // [B,T] 1 = token (the prompts' left padding is 0)
  torch::Tensor images;     // the prompts' images, re-embedded every step
};

class TinyFuyuBackbone final : public ml::Backbone {
 public:
  TinyFuyuBackbone(TinyFuyuOptions options, ml::Tokenizer tokenizer)
      : options_(std::move(options)), tokenizer_(std::move(tokenizer)) {
    validate(options_);
    // A checkpoint is config.json + tokenizer.json + weights; these checks
    // catch a config paired with another model's tokenizer.
    if (options_.vocab_size() != tokenizer_.size())
      throw_bad_input("tiny_fuyu: config vocab_size " + std::to_string(options_.vocab_size()) +
                      " but the tokenizer has " + std::to_string(tokenizer_.size()) + " tokens");
    for (const char* t : {ml::tokens::kImage, ml::tokens::kBos, ml::tokens::kUser, ml::tokens::kAssistant,
                          ml::tokens::kSystem, ml::tokens::kEnd, ml::tokens::kEos, ml::tokens::kPad})
      if (!tokenizer_.find(t)) throw_bad_input(std::string("tiny_fuyu: the tokenizer lacks ") + t);
    if (options_.image_token_id() != tokenizer_.image_id())
      throw_bad_input("tiny_fuyu: config image_token_id " + std::to_string(options_.image_token_id()) +
                      " is not the tokenizer's <image> id " + std::to_string(tokenizer_.image_id()));
    model_ = TinyFuyu(options_);
  }

  // ---- identity ---------------------------------------------------------------
  std::string architecture() const override { return kArchitecture; }

  // Backbone::save adds "architecture", "torch_dtype", "device",
  // "plugin_library" and "mstar_version" to this.
  Json config() const override {
    Json j = to_json(options_);
    j["architectures"] = {"TinyFuyuForCausalLM"};
    j["image_token_count"] = image_token_count();
    j["bos_token_id"] = tokenizer_.bos_id();
    j["eos_token_id"] = stop_token_ids();
    j["pad_token_id"] = tokenizer_.pad_id();
    return j;
  }

  const ml::Tokenizer& tokenizer() const override { return tokenizer_; }

  // ---- parameters and placement ------------------------------------------------
  torch::nn::Module& module() override { return *model_; }
  const torch::nn::Module& module() const override { return *model_; }

  // There is no vision tower: the patch projection is the only image-specific
  // weight and plays the projector's part (like visual.merger in tiny_vlm).
  // So freeze_vision (set_trainable(Vision, false)) freezes nothing here, and
  // training still adapts how images enter the decoder, which is what
  // "freeze the vision tower, train the projector" means for this family.
  ml::ParamGroup group_of(const std::string& name) const override {
    if (name.rfind("vision_embed_tokens.", 0) == 0) return ml::ParamGroup::Projector;
    return ml::ParamGroup::Language;
  }

  // Everything lives in parameters; a backbone with non-parameter tables
  // (tiny_vlm's rotary factors) rebuilds them here.
  void to(torch::Device device, torch::Dtype dtype) override { model_->to(device, dtype); }

  // ---- processor and chat template ------------------------------------------------
  int64_t image_size() const override { return options_.image_size(); }
  int64_t image_token_count() const override { return tiny_fuyu::image_token_count(options_); }

  // The template every mstar backbone shares, so prompts and rewards carry over:
  //   <bos> [<system> SYSTEM <end>] <user> USER <end> <assistant>
  // <image> in USER becomes image_token_count() placeholders, which embed()
  // replaces with patch vectors; without one the image goes first.
  std::vector<int64_t> build_prompt(std::string_view system, std::string_view user, bool with_image) const override {
    const int64_t image = tokenizer_.image_id();
    std::vector<int64_t> ids{tokenizer_.bos_id()};
    if (!system.empty()) {
      ids.push_back(tokenizer_.id(ml::tokens::kSystem));
      for (int64_t t : tokenizer_.encode(system)) {
        if (t == image) throw_bad_input("tiny_fuyu: <image> in a system prompt");
        ids.push_back(t);
      }
      ids.push_back(tokenizer_.id(ml::tokens::kEnd));
    }
    ids.push_back(tokenizer_.id(ml::tokens::kUser));
    const std::vector<int64_t> text = tokenizer_.encode(user);
    const auto placeholders = std::count(text.begin(), text.end(), image);
    if (!with_image && placeholders > 0) throw_bad_input("tiny_fuyu: <image> in a prompt built without an image");
    if (placeholders > 1) throw_bad_input("tiny_fuyu: more than one <image> in a prompt (one image per sample)");
    const std::vector<int64_t> patches(static_cast<size_t>(image_token_count()), image);
    if (with_image && placeholders == 0) ids.insert(ids.end(), patches.begin(), patches.end());
    for (int64_t t : text) {
      if (t == image) ids.insert(ids.end(), patches.begin(), patches.end());
      else ids.push_back(t);
    }
    ids.push_back(tokenizer_.id(ml::tokens::kEnd));
    ids.push_back(tokenizer_.id(ml::tokens::kAssistant));
    return ids;
  }

  std::vector<int64_t> encode_response(std::string_view text, bool end_turn) const override {
    std::vector<int64_t> ids = tokenizer_.encode(text);
    if (end_turn) ids.push_back(tokenizer_.id(ml::tokens::kEnd));
    return ids;
  }

  // Cut at the first stop token, drop padding; keep <think>/<answer>, which
  // the reward functions parse.
  std::string decode_response(const std::vector<int64_t>& ids) const override {
    const std::vector<int64_t> stops = stop_token_ids();
    std::vector<int64_t> kept;
    for (int64_t t : ids) {
      if (std::find(stops.begin(), stops.end(), t) != stops.end()) break;
      if (t != tokenizer_.pad_id()) kept.push_back(t);
    }
    return tokenizer_.decode(kept);
  }

  std::vector<int64_t> stop_token_ids() const override {
    return {tokenizer_.id(ml::tokens::kEnd), tokenizer_.eos_id()};
  }

  // ---- compute ---------------------------------------------------------------------
  // score() (log-probs for trainers) is the base class's, built on forward().
  torch::Tensor forward(const ml::Batch& batch) override {
    ml::check_token_ids(batch.token_ids, tokenizer_.size(), "tiny_fuyu");
    const torch::Device dev = device();
    return model_->forward(batch.token_ids.to(dev),
                           batch.attention_mask.defined() ? batch.attention_mask.to(dev) : torch::Tensor(),
                           batch.images);
  }

  // generate() is the base class's: prefill once, then decode_step per token.
  std::unique_ptr<ml::DecodeState> prefill(const ml::Batch& prompts, int64_t max_new_tokens,
                                           torch::Tensor& last_logits) override {
    ml::check_token_ids(prompts.token_ids, tokenizer_.size(), "tiny_fuyu");
    const torch::Device dev = device();
    auto state = std::make_unique<RecomputeState>();
    state->token_ids = prompts.token_ids.to(dev);
    state->mask = prompts.attention_mask.defined() ? prompts.attention_mask.to(dev).to(torch::kInt64)
                                                   : torch::ones_like(state->token_ids);
    state->images = prompts.images;
    // Fail before sampling rather than at the step that runs out of positions.
    const int64_t longest = state->mask.sum(1).max().item<int64_t>();
    if (longest + max_new_tokens > options_.max_positions())
      throw_bad_input("tiny_fuyu: prompt of " + std::to_string(longest) + " tokens + " +
                      std::to_string(max_new_tokens) + " new tokens exceeds max_positions " +
                      std::to_string(options_.max_positions()));
    // Prompts are left-padded, so the last column is every row's last token.
    last_logits = model_->forward(state->token_ids, state->mask, state->images).select(1, -1);
    return state;
  }

  torch::Tensor decode_step(ml::DecodeState& base, const torch::Tensor& tokens) override {
    auto* state = dynamic_cast<RecomputeState*>(&base);
    if (!state) throw mstar::Error(mstar::ErrorCategory::Internal, "tiny_fuyu: decode_step given another backbone's state");
    torch::Tensor next = tokens.to(state->token_ids.device()).view({-1, 1});
    state->token_ids = torch::cat({state->token_ids, next}, 1);
    state->mask = torch::cat({state->mask, torch::ones_like(next)}, 1);
    return model_->forward(state->token_ids, state->mask, state->images).select(1, -1);
  }

  // ---- persistence ----------------------------------------------------------------
  // save(), state() and load_weights() are the base class's: the module's
  // named parameters are the checkpoint's tensor names.
  std::unique_ptr<ml::Backbone> clone() const override {
    // Building the copy draws a random init that is overwritten at once: keep
    // the caller's random stream where it was.
    ml::DefaultRngGuard keep_rng;
    torch::NoGradGuard no_grad;
    auto copy = std::make_unique<TinyFuyuBackbone>(options_, tokenizer_);
    copy->to(device(), dtype());
    ml::copy_parameters(*model_, *copy->model_);
    copy->train(is_training());
    return copy;
  }

 private:
  TinyFuyuOptions options_;
  ml::Tokenizer tokenizer_;
  TinyFuyu model_{nullptr};
};

}  // namespace

std::unique_ptr<ml::Backbone> make_backbone(TinyFuyuOptions options, ml::Tokenizer tokenizer) {
  return std::make_unique<TinyFuyuBackbone>(std::move(options), std::move(tokenizer));
}

std::unique_ptr<ml::Backbone> make_backbone_from_config(const Json& config, ml::Tokenizer tokenizer) {
  return make_backbone(options_from_json(config), std::move(tokenizer));
}

// Runs when the library is loaded: by the host for the backbone node, and
// by load_backbone() in any other node's process, which dlopen()s the
// "plugin_library" that save() recorded in config.json.
MSTAR_REGISTER_BACKBONE(kArchitecture, make_backbone_from_config,
                        "tiny_fuyu: Fuyu-style, image patches linearly projected into a causal decoder")

}  // namespace tiny_fuyu
