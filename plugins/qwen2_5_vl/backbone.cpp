// Qwen2.5-VL as an mstar::ml::Backbone: the processor inside forward and
// prefill, KV-cached decoding with M-RoPE deltas (a generated token's three
// position ids are all max prompt position + 1 + step, as transformers'
// rope_deltas give them), clone; registered as architecture "qwen2_5_vl".
#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/extra_files.h"
#include "mstar/ml/module_util.h"
#include "mstar/ml/registry.h"
#include "mstar/text/chat_template.h"
#include "lora.h"
#include "qwen2_5_vl.h"

namespace mstar::qwen2_5_vl {

namespace {

namespace fs = std::filesystem;

// Square images of this side unless the config says otherwise (Batch images are [B,3,S,S]).
constexpr int64_t kDefaultImageSize = 448;

struct QwenDecodeState final : ml::DecodeState {
  std::vector<KvSlot> cache;
  torch::Tensor key_mask;       // [B, capacity] additive: prompt padding
  torch::Tensor next_position;  // [B]: max prompt position + 1 + tokens decoded so far
  int64_t length = 0, capacity = 0;
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class QwenBackbone final : public ml::Backbone, public ml::SavesExtraFiles {
 public:
  QwenBackbone(Config config, ProcessorConfig processor, ml::Tokenizer tokenizer, Qwen2_5_VL model, int64_t image_size)
      : config_(std::move(config)), processor_(processor), tokenizer_(std::move(tokenizer)), model_(std::move(model)),
        image_size_(image_size) {}

  std::string architecture() const override { return kArchitecture; }
  Json config() const override {
    Json j = to_json(config_);
    j["processor"] = to_json(processor_);
    j["image_size"] = image_size_;
    j["gradient_checkpointing"] = model_->model->checkpointing;
    if (lora_.rank > 0) j["lora"] = to_json(lora_);
    return j;
  }

  // LoRA adapters (already attached to the model) and gradient checkpointing.
  void set_training_options(const LoraOptions& lora, bool checkpointing) {
    lora_ = lora;
    model_->model->checkpointing = checkpointing;
    model_->visual->checkpointing = checkpointing;
  }

  // With adapters, model.safetensors keeps the base and the adapter goes to peft's files.
  std::vector<std::pair<std::string, torch::Tensor>> state() const override {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : model_->named_parameters())
      if (!is_adapter_parameter(p.key())) out.emplace_back(p.key(), p.value());
    return out;
  }
  void save_extra_files(const fs::path& dir) const override {
    if (lora_.rank > 0) save_adapter(model_, lora_, dir);
  }
  const ml::Tokenizer& tokenizer() const override { return tokenizer_; }
  torch::nn::Module& module() override { return *model_; }
  const torch::nn::Module& module() const override { return *model_; }

  ml::ParamGroup group_of(const std::string& name) const override {
    if (starts_with(name, "visual.merger.")) return ml::ParamGroup::Projector;
    if (starts_with(name, "visual.")) return ml::ParamGroup::Vision;
    return ml::ParamGroup::Language;
  }

  void to(torch::Device device, torch::Dtype dtype) override {
    move_model(model_, device, dtype);
  }

  int64_t image_size() const override { return image_size_; }
  int64_t image_token_count() const override {
    const auto [h, w] = smart_resize(image_size_, image_size_, processor_.patch * processor_.merge, processor_.min_pixels,
                                     processor_.max_pixels);
    return (h / processor_.patch) * (w / processor_.patch) / (processor_.merge * processor_.merge);
  }

  // The chat template rendered as transformers' apply_chat_template renders
  // it (text::render_qwen2_vl_prompt: the system turn, or the template's
  // default one, and the user turn split at <image> as EasyR1 builds its
  // messages), encoded, and the image's <|image_pad|> expanded to
  // image_token_count() as the processor expands it.
  std::vector<int64_t> build_prompt(std::string_view system, std::string_view user, bool with_image) const override {
    const bool placed = user.find(ml::tokens::kImage) != std::string_view::npos;
    if (placed && !with_image) throw_bad_input("qwen2_5_vl: <image> in the text of a prompt without an image");
    const std::string text =
        text::render_qwen2_vl_prompt(system, with_image && !placed ? ml::tokens::kImage + std::string(user) : std::string(user));
    int64_t images = 0;
    std::vector<int64_t> ids;
    for (int64_t t : tokenizer_.encode(text)) {
      if (t != config_.image_token_id) {
        ids.push_back(t);
        continue;
      }
      ++images;
      ids.insert(ids.end(), static_cast<size_t>(image_token_count()), t);
    }
    if (images != (with_image ? 1 : 0))
      throw_bad_input("qwen2_5_vl: a prompt holds " + std::to_string(images) + " images where " +
                      (with_image ? "one" : "none") + " was expected (<image> or <|image_pad|> in its text?)");
    return ids;
  }

  std::vector<int64_t> encode_response(std::string_view text, bool end_turn) const override {
    std::vector<int64_t> ids = tokenizer_.encode(text);
    if (end_turn) ids.push_back(special("<|im_end|>"));
    return ids;
  }

  std::string decode_response(const std::vector<int64_t>& ids) const override {
    const auto stops = stop_token_ids();
    std::vector<int64_t> kept;
    for (int64_t t : ids) {
      if (std::find(stops.begin(), stops.end(), t) != stops.end()) break;
      if (t != pad_token_id()) kept.push_back(t);
    }
    return tokenizer_.decode(kept);
  }

  std::vector<int64_t> stop_token_ids() const override {
    std::vector<int64_t> out = config_.eos_ids;
    if (const int64_t eos = tokenizer_.is_byte_level() ? tokenizer_.eos_id() : -1;
        eos >= 0 && std::find(out.begin(), out.end(), eos) == out.end())
      out.push_back(eos);
    if (auto end = tokenizer_.find("<|im_end|>"); end && std::find(out.begin(), out.end(), *end) == out.end())
      out.push_back(*end);
    return out;
  }

  int64_t pad_token_id() const override {
    if (config_.pad_id >= 0) return config_.pad_id;
    if (tokenizer_.is_byte_level() && tokenizer_.pad_id() >= 0) return tokenizer_.pad_id();
    if (auto t = tokenizer_.find("<|endoftext|>")) return *t;
    return tokenizer_.pad_id();
  }

  torch::Tensor forward(const ml::Batch& batch) override {
    ml::check_token_ids(batch.token_ids, config_.text.vocab, "qwen2_5_vl");
    const ProcessedImages images = process(batch);
    return model_->forward(batch.token_ids.to(device()), mask_of(batch), images.pixel_values, images.grid_thw);
  }

  std::unique_ptr<ml::DecodeState> prefill(const ml::Batch& prompts, int64_t max_new_tokens,
                                           torch::Tensor& last_logits) override {
    ml::check_token_ids(prompts.token_ids, config_.text.vocab, "qwen2_5_vl");
    return qwen2_5_vl::prefill(model_, prompts.token_ids, mask_of(prompts), process(prompts), max_new_tokens, last_logits);
  }

  torch::Tensor decode_step(ml::DecodeState& state, const torch::Tensor& tokens) override {
    return qwen2_5_vl::decode_step(model_, state, tokens);
  }

  std::unique_ptr<ml::Backbone> clone() const override {
    torch::NoGradGuard no_grad;
    Qwen2_5_VL copy(config_, torch::TensorOptions().dtype(dtype()).device(device()));
    if (lora_.rank > 0) {
      ml::DefaultRngGuard keep_rng;  // the adapters' init is overwritten
      add_adapters(copy, lora_);
    }
    ml::copy_parameters(*model_, *copy);
    auto out = std::make_unique<QwenBackbone>(config_, processor_, tokenizer_, copy, image_size_);
    out->set_training_options(lora_, model_->model->checkpointing);
    out->train(is_training());
    return out;
  }

 private:
  int64_t special(const char* token) const {
    auto id = tokenizer_.find(token);
    if (!id) throw_bad_input(std::string("qwen2_5_vl: the tokenizer lacks the chat-template token ") + token);
    return *id;
  }

  torch::Tensor mask_of(const ml::Batch& batch) const {
    return batch.attention_mask.defined() ? batch.attention_mask.to(device()).to(torch::kInt64)
                                          : torch::ones_like(batch.token_ids).to(device());
  }

  ProcessedImages process(const ml::Batch& batch) const {
    if (!batch.images.defined()) return {};
    return process_images(images_from_batch(batch.images), processor_);
  }

  Config config_;
  ProcessorConfig processor_;
  ml::Tokenizer tokenizer_;
  Qwen2_5_VL model_{nullptr};
  int64_t image_size_;
  LoraOptions lora_;  // rank 0: none
};

ProcessorConfig processor_of(const Json& config, const fs::path& dir) {
  if (config.contains("processor")) return processor_from_json(config["processor"], "config.json: processor");
  const fs::path file = dir / "preprocessor_config.json";
  if (dir.empty() || !fs::exists(file)) return {};
  try {
    return processor_from_json(Json::parse(read_file(file)), file.string());
  } catch (const Json::exception& e) {
    throw_bad_input(file.string() + ": not valid JSON: " + e.what());
  }
}

int64_t image_size_of(const Json& config) {
  const int64_t s = config.value("image_size", kDefaultImageSize);
  if (s <= 0) throw_bad_input("qwen2_5_vl: image_size must be positive");
  return s;
}

// The registry's factory: a freshly initialised model of config's dims.
std::unique_ptr<ml::Backbone> make_backbone_from_config(const Json& config, ml::Tokenizer tokenizer) {
  const Config c = config_from_json(config);
  Qwen2_5_VL model(c, torch::TensorOptions().dtype(torch::kFloat32));
  model->init_weights();
  return std::make_unique<QwenBackbone>(c, processor_of(config, {}), std::move(tokenizer), model, image_size_of(config));
}

}  // namespace

std::unique_ptr<ml::DecodeState> prefill(Qwen2_5_VL& model, const torch::Tensor& token_ids, const torch::Tensor& attention_mask,
                                         const ProcessedImages& images, int64_t max_new_tokens, torch::Tensor& last_logits) {
  const torch::Device dev = model->model->embed_tokens.device();
  const torch::Dtype dtype = model->model->embed_tokens.scalar_type();
  const TextConfig& t = model->config.text;
  const int64_t b = token_ids.size(0), t0 = token_ids.size(1);
  const torch::Tensor ids = token_ids.to(dev);
  const torch::Tensor mask = attention_mask.defined() ? attention_mask.to(dev).to(torch::kInt64) : torch::ones_like(ids);
  const RopeIndex positions = rope_index(ids, mask, images.grid_thw, model->config);

  auto state = std::make_unique<QwenDecodeState>();
  state->capacity = t0 + max_new_tokens;
  const auto opts = torch::TensorOptions().dtype(dtype).device(dev);
  for (int64_t i = 0; i < t.layers; ++i)
    state->cache.push_back({torch::empty({b, t.kv_heads, state->capacity, t.head_dim()}, opts),
                            torch::empty({b, t.kv_heads, state->capacity, t.head_dim()}, opts)});
  state->key_mask = torch::zeros({b, state->capacity}, opts);
  state->key_mask.narrow(1, 0, t0).masked_fill_(mask == 0, mask_value(dtype));

  const torch::Tensor x = model->embed(ids, images.pixel_values, images.grid_thw);
  const torch::Tensor h = model->model->forward(x, positions.position_ids, causal_mask(mask, dtype), &state->cache, 0);
  last_logits = model->logits(h.select(1, t0 - 1));
  state->next_position = (mask.sum(1).to(torch::kCPU) + positions.deltas).to(dev);
  state->length = t0;
  return state;
}

torch::Tensor decode_step(Qwen2_5_VL& model, ml::DecodeState& base, const torch::Tensor& tokens) {
  auto* state = dynamic_cast<QwenDecodeState*>(&base);
  if (!state) throw Error(ErrorCategory::Internal, "qwen2_5_vl: decode_step given another backbone's state");
  if (state->length >= state->capacity)
    throw_bad_input("qwen2_5_vl: decode_step past the capacity reserved by prefill (" + std::to_string(state->capacity) + ")");
  const torch::Device dev = model->model->embed_tokens.device();
  const int64_t b = tokens.size(0), s = state->length + 1;
  const torch::Tensor x = torch::embedding(model->model->embed_tokens, tokens.to(dev).view({b, 1}));
  const torch::Tensor pos = state->next_position.view({1, b, 1}).expand({3, b, 1});
  const torch::Tensor mask = state->key_mask.narrow(1, 0, s).view({b, 1, 1, s});
  const torch::Tensor h = model->model->forward(x, pos, mask, &state->cache, state->length);
  state->length += 1;
  state->next_position.add_(1);
  return model->logits(h.select(1, 0));
}

std::unique_ptr<ml::Backbone> make_backbone(Config config, ProcessorConfig processor, ml::Tokenizer tokenizer,
                                            Qwen2_5_VL model) {
  const int64_t size = kDefaultImageSize;
  return std::make_unique<QwenBackbone>(std::move(config), processor, std::move(tokenizer), std::move(model), size);
}

std::unique_ptr<ml::Backbone> load_backbone(const fs::path& dir, ml::Tokenizer tokenizer, const ml::LoadOptions& options,
                                            const BackboneOptions& extra) {
  Json j = Json::parse(read_file(dir / "config.json"), nullptr, false);
  const std::string saved = j.is_object() ? j.value("torch_dtype", j.value("dtype", "float32")) : "float32";
  const torch::Dtype dtype = ml::parse_dtype(options.dtype.empty() ? saved : options.dtype);
  const torch::Device device = ml::parse_device(options.device.empty() ? "cpu" : options.device);
  Qwen2_5_VL model = load_model(dir, device, dtype);
  ProcessorConfig processor = processor_of(j, dir);
  if (extra.min_pixels > 0) processor.min_pixels = extra.min_pixels;
  if (extra.max_pixels > 0) processor.max_pixels = extra.max_pixels;
  if (processor.min_pixels > processor.max_pixels)
    throw_bad_input("qwen2_5_vl: min_pixels " + std::to_string(processor.min_pixels) + " exceeds max_pixels " +
                    std::to_string(processor.max_pixels));
  const int64_t image_size = extra.image_size > 0 ? extra.image_size : image_size_of(j);
  LoraOptions lora;
  if (fs::exists(dir / kAdapterConfigFile)) {
    if (extra.lora.rank > 0)
      throw_bad_input(dir.string() + " holds an adapter (" + kAdapterConfigFile + ") already; lora_rank must be 0 to load it");
    lora = load_adapter(model, dir);
  } else if (extra.lora.rank > 0) {
    lora = extra.lora;
    if (lora.base.empty()) lora.base = fs::absolute(dir).lexically_normal().string();
    add_adapters(model, lora);
  }
  const bool checkpointing = extra.gradient_checkpointing || (j.is_object() && j.value("gradient_checkpointing", false));
  auto out = std::make_unique<QwenBackbone>(model->config, processor, std::move(tokenizer), model, image_size);
  out->set_training_options(lora, checkpointing);
  if (extra.freeze_vision) out->set_trainable(ml::ParamGroup::Vision, false);
  return out;
}

namespace {

// ml::load_backbone's way in: a Hugging Face directory (model_type
// qwen2_5_vl) or one Backbone::save wrote.
std::unique_ptr<ml::Backbone> load_from_registry(const fs::path& dir, const Json&, ml::Tokenizer tokenizer,
                                                 const ml::LoadOptions& options) {
  return load_backbone(dir, std::move(tokenizer), options,
                       backbone_options_from_json(options.backbone_options, "qwen2_5_vl options (" + dir.string() + ")"));
}

}  // namespace

MSTAR_REGISTER_BACKBONE_WITH_LOADER(kArchitecture, make_backbone_from_config, load_from_registry,
                                    "qwen2_5_vl: Qwen2.5-VL (Hugging Face checkpoints), numerically as transformers computes it")

}  // namespace mstar::qwen2_5_vl
