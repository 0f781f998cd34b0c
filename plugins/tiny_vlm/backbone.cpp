// tiny_vlm as an mstar::ml::Backbone: chat template, batched forward,
// KV-cached decoding, clone; registered as architecture "tiny_vlm".
#include "mstar/error.h"
#include "mstar/ml/module_util.h"
#include "mstar/ml/registry.h"
#include "tiny_vlm.h"

namespace mstar::tiny_vlm {

namespace {

struct TinyDecodeState final : ml::DecodeState {
  std::vector<KvSlot> cache;  // per layer, [B, kv_heads, capacity, head_dim]
  torch::Tensor key_mask;     // [B, capacity] additive: padding of the prompts
  torch::Tensor positions;    // [B] position id of the next token
  int64_t length = 0;         // filled cache slots
  int64_t capacity = 0;
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class TinyVlmBackbone final : public ml::Backbone {
 public:
  TinyVlmBackbone(TinyVlmOptions options, ml::Tokenizer tokenizer)
      : options_(std::move(options)), tokenizer_(std::move(tokenizer)) {
    if (options_.text().vocab_size() != tokenizer_.size())
      throw_bad_input("tiny_vlm: config vocab_size " + std::to_string(options_.text().vocab_size()) +
                      " but the tokenizer has " + std::to_string(tokenizer_.size()) + " tokens");
    for (const char* t : {ml::tokens::kImage, ml::tokens::kBos, ml::tokens::kSystem, ml::tokens::kUser,
                          ml::tokens::kAssistant, ml::tokens::kEnd, ml::tokens::kEos, ml::tokens::kPad})
      if (!tokenizer_.find(t)) throw_bad_input(std::string("tiny_vlm: the tokenizer lacks ") + t);
    if (options_.image_token_id() != tokenizer_.image_id())
      throw_bad_input("tiny_vlm: config image_token_id " + std::to_string(options_.image_token_id()) +
                      " is not the tokenizer's <image> id " + std::to_string(tokenizer_.image_id()));
    model_ = TinyVlm(options_);
  }

  std::string architecture() const override { return kArchitecture; }

  Json config() const override {
    Json j = to_json(options_);
    j["architectures"] = {"TinyVlmForConditionalGeneration"};
    j["image_token_count"] = image_token_count();
    j["bos_token_id"] = tokenizer_.bos_id();
    j["eos_token_id"] = stop_token_ids();
    j["pad_token_id"] = tokenizer_.pad_id();
    return j;
  }

  const ml::Tokenizer& tokenizer() const override { return tokenizer_; }
  torch::nn::Module& module() override { return *model_; }
  const torch::nn::Module& module() const override { return *model_; }

  ml::ParamGroup group_of(const std::string& name) const override {
    if (starts_with(name, "visual.merger.") || starts_with(name, "multi_modal_projector.")) return ml::ParamGroup::Projector;
    if (starts_with(name, "visual.") || starts_with(name, "vision_tower.")) return ml::ParamGroup::Vision;
    return ml::ParamGroup::Language;
  }

  void to(torch::Device device, torch::Dtype dtype) override {
    model_->to(device, dtype);
    model_->build_tables(device);
  }

  int64_t image_size() const override { return options_.image_size(); }
  int64_t image_token_count() const override { return tiny_vlm::image_token_count(options_); }

  // <bos> [<system> system <end>] <user> user-with-image <end> <assistant>
  std::vector<int64_t> build_prompt(std::string_view system, std::string_view user, bool with_image) const override {
    std::vector<int64_t> ids{tokenizer_.bos_id()};
    if (!system.empty()) {
      ids.push_back(tokenizer_.id(ml::tokens::kSystem));
      for (int64_t t : tokenizer_.encode(system)) {
        if (t == tokenizer_.image_id()) throw_bad_input("tiny_vlm: <image> in a system prompt");
        ids.push_back(t);
      }
      ids.push_back(tokenizer_.id(ml::tokens::kEnd));
    }
    ids.push_back(tokenizer_.id(ml::tokens::kUser));
    const std::vector<int64_t> text = tokenizer_.encode(user);
    const auto placeholders = std::count(text.begin(), text.end(), tokenizer_.image_id());
    if (!with_image && placeholders > 0) throw_bad_input("tiny_vlm: <image> in a prompt built without an image");
    if (placeholders > 1) throw_bad_input("tiny_vlm: more than one <image> in a prompt (one image per sample)");
    const std::vector<int64_t> image(static_cast<size_t>(image_token_count()), tokenizer_.image_id());
    if (with_image && placeholders == 0) ids.insert(ids.end(), image.begin(), image.end());
    for (int64_t t : text) {
      if (t == tokenizer_.image_id()) ids.insert(ids.end(), image.begin(), image.end());
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

  std::string decode_response(const std::vector<int64_t>& ids) const override {
    const auto stops = stop_token_ids();
    std::vector<int64_t> kept;
    for (int64_t t : ids) {
      if (std::find(stops.begin(), stops.end(), t) != stops.end()) break;
      if (t == tokenizer_.pad_id()) continue;
      kept.push_back(t);
    }
    return tokenizer_.decode(kept);
  }

  bool takes_image_index() const override { return true; }

  std::vector<int64_t> stop_token_ids() const override {
    return {tokenizer_.id(ml::tokens::kEnd), tokenizer_.eos_id()};
  }

  torch::Tensor forward(const ml::Batch& batch) override {
    ml::check_token_ids(batch.token_ids, tokenizer_.size(), "tiny_vlm");
    return model_->forward(batch.token_ids.to(device()), batch.attention_mask.defined() ? batch.attention_mask.to(device()) : torch::Tensor(),
                           batch.images, batch.image_index);
  }

  std::unique_ptr<ml::DecodeState> prefill(const ml::Batch& prompts, int64_t max_new_tokens,
                                           torch::Tensor& last_logits) override {
    ml::check_token_ids(prompts.token_ids, tokenizer_.size(), "tiny_vlm");
    const torch::Device dev = device();
    const auto& t = options_.text();
    const int64_t b = prompts.size(), t0 = prompts.width(), hd = t.hidden() / t.heads();
    torch::Tensor ids = prompts.token_ids.to(dev);
    torch::Tensor mask = prompts.attention_mask.defined() ? prompts.attention_mask.to(dev).to(torch::kInt64)
                                                          : torch::ones({b, t0}, ids.options());
    const int64_t longest = mask.sum(1).max().item<int64_t>();
    if (longest + max_new_tokens > t.max_positions())
      throw_bad_input("tiny_vlm: prompt of " + std::to_string(longest) + " tokens + " + std::to_string(max_new_tokens) +
                      " new tokens exceeds max_positions " + std::to_string(t.max_positions()));

    auto state = std::make_unique<TinyDecodeState>();
    state->capacity = t0 + max_new_tokens;
    const auto opts = torch::TensorOptions().dtype(dtype()).device(dev);
    for (int64_t i = 0; i < t.layers(); ++i)
      state->cache.push_back({torch::empty({b, kv_heads(options_), state->capacity, hd}, opts),
                              torch::empty({b, kv_heads(options_), state->capacity, hd}, opts)});
    state->key_mask = torch::zeros({b, state->capacity}, opts);
    state->key_mask.narrow(1, 0, t0).masked_fill_(mask == 0, mask_value(dtype()));

    torch::Tensor x = model_->embed(ids, prompts.images, prompts.image_index);
    torch::Tensor positions = (mask.cumsum(1) - 1).clamp_min(0);
    torch::Tensor allowed = torch::ones({t0, t0}, torch::TensorOptions().dtype(torch::kBool).device(dev)).tril().unsqueeze(0) &
                            mask.to(torch::kBool).unsqueeze(1);
    torch::Tensor attn = torch::zeros({b, t0, t0}, opts).masked_fill_(allowed.logical_not(), mask_value(dtype()))
                             .view({b, 1, t0, t0});
    torch::Tensor h = model_->model->forward(x, model_->text_rope(positions), attn, &state->cache, 0);
    last_logits = model_->lm_logits(h.select(1, t0 - 1));
    state->positions = mask.sum(1);
    state->length = t0;
    return state;
  }

  torch::Tensor decode_step(ml::DecodeState& base, const torch::Tensor& tokens) override {
    auto* state = dynamic_cast<TinyDecodeState*>(&base);
    if (!state) throw Error(ErrorCategory::Internal, "tiny_vlm: decode_step given another backbone's state");
    if (state->length >= state->capacity)
      throw_bad_input("tiny_vlm: decode_step past the capacity reserved by prefill (" + std::to_string(state->capacity) + ")");
    const int64_t b = tokens.size(0), s = state->length + 1;
    torch::Tensor x = model_->embed_text(tokens.view({b, 1}));
    torch::Tensor rope = model_->text_rope(state->positions.view({b, 1}));
    torch::Tensor mask = state->key_mask.narrow(1, 0, s).view({b, 1, 1, s});
    torch::Tensor h = model_->model->forward(x, rope, mask, &state->cache, state->length);
    state->length += 1;
    state->positions.add_(1);
    return model_->lm_logits(h.select(1, 0));
  }

  std::unique_ptr<ml::Backbone> clone() const override {
    ml::DefaultRngGuard keep_rng;
    torch::NoGradGuard no_grad;
    auto copy = std::make_unique<TinyVlmBackbone>(options_, tokenizer_);
    copy->to(device(), dtype());
    ml::copy_parameters(*model_, *copy->model_);
    copy->train(is_training());
    return copy;
  }

 private:
  TinyVlmOptions options_;
  ml::Tokenizer tokenizer_;
  TinyVlm model_{nullptr};
};

}  // namespace

std::unique_ptr<ml::Backbone> make_backbone(TinyVlmOptions options, ml::Tokenizer tokenizer) {
  return std::make_unique<TinyVlmBackbone>(std::move(options), std::move(tokenizer));
}

std::unique_ptr<ml::Backbone> make_backbone_from_config(const Json& config, ml::Tokenizer tokenizer) {
  return make_backbone(options_from_json(config), std::move(tokenizer));
}

MSTAR_REGISTER_BACKBONE(kArchitecture, make_backbone_from_config,
                        "tiny_vlm: Qwen2.5-VL-like (qwen) and LLaVA-like (llava) small VLMs")

}  // namespace mstar::tiny_vlm
