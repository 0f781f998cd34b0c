#include "mstar/ml/backbone.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/checkpoint.h"
#include "mstar/ml/extra_files.h"
#include "mstar/ml/registry.h"
#include "mstar/ml/safetensors.h"
#include "mstar/version.h"

namespace mstar::ml {

namespace fs = std::filesystem;

std::string_view to_string(ParamGroup group) noexcept {
  switch (group) {
    case ParamGroup::Vision: return "vision";
    case ParamGroup::Projector: return "projector";
    case ParamGroup::Language: return "language";
  }
  return "?";
}

DecodeState::~DecodeState() = default;

DefaultRngGuard::DefaultRngGuard() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  state_ = gen.get_state();
}

DefaultRngGuard::~DefaultRngGuard() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state_);
}
Backbone::~Backbone() = default;

// ---- batches -----------------------------------------------------------------

Batch pad_batch(const std::vector<std::vector<int64_t>>& sequences, int64_t pad_id, PadSide side) {
  const auto b = static_cast<int64_t>(sequences.size());
  int64_t width = 0;
  for (const auto& s : sequences) width = std::max<int64_t>(width, static_cast<int64_t>(s.size()));
  if (b == 0 || width == 0) throw_bad_input("pad_batch: no tokens to batch");
  Batch batch;
  batch.token_ids = torch::full({b, width}, pad_id, torch::kInt64);
  batch.attention_mask = torch::zeros({b, width}, torch::kInt64);
  auto ids = batch.token_ids.accessor<int64_t, 2>();
  auto mask = batch.attention_mask.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& s = sequences[static_cast<size_t>(i)];
    const int64_t n = static_cast<int64_t>(s.size());
    const int64_t start = side == PadSide::Left ? width - n : 0;
    for (int64_t j = 0; j < n; ++j) {
      ids[i][start + j] = s[static_cast<size_t>(j)];
      mask[i][start + j] = 1;
    }
  }
  return batch;
}

SequenceBatch pack_sequences(const std::vector<std::vector<int64_t>>& prompts,
                             const std::vector<std::vector<int64_t>>& responses, int64_t pad_id) {
  if (prompts.size() != responses.size())
    throw_bad_input("pack_sequences: " + std::to_string(prompts.size()) + " prompts but " +
                    std::to_string(responses.size()) + " responses");
  Batch p = pad_batch(prompts, pad_id, PadSide::Left);
  int64_t rwidth = 0;
  for (const auto& r : responses) rwidth = std::max<int64_t>(rwidth, static_cast<int64_t>(r.size()));
  SequenceBatch out;
  out.prompt_width = p.width();
  if (rwidth == 0) {
    out.batch = p;
    out.response_mask = torch::zeros_like(p.attention_mask);
    return out;
  }
  Batch r = pad_batch(responses, pad_id, PadSide::Right);
  out.batch.token_ids = torch::cat({p.token_ids, r.token_ids}, 1);
  out.batch.attention_mask = torch::cat({p.attention_mask, r.attention_mask}, 1);
  out.response_mask = torch::cat({torch::zeros_like(p.attention_mask), r.attention_mask}, 1);
  return out;
}

SequenceBatch append_generation(const Batch& prompts, const Generation& generation) {
  SequenceBatch out;
  out.prompt_width = prompts.width();
  torch::Tensor pmask = prompts.attention_mask.defined() ? prompts.attention_mask
                                                          : torch::ones_like(prompts.token_ids);
  const torch::Tensor tokens = generation.tokens.to(prompts.token_ids.device());
  const torch::Tensor gmask = generation.mask.to(pmask.device());
  out.batch.images = prompts.images;
  out.batch.image_index = prompts.image_index;
  out.batch.token_ids = torch::cat({prompts.token_ids, tokens}, 1);
  out.batch.attention_mask = torch::cat({pmask, gmask}, 1);
  out.response_mask = torch::cat({torch::zeros_like(pmask), gmask}, 1);
  return out;
}

Batch with_row_images(const Backbone& model, const Batch& batch) {
  if (!batch.image_index.defined() || !batch.images.defined() || model.takes_image_index()) return batch;
  Batch out = batch;
  out.images = batch.images.index_select(0, batch.image_index.to(batch.images.device(), torch::kInt64));
  out.image_index = torch::Tensor();
  return out;
}

// ---- parameters ----------------------------------------------------------------

std::vector<torch::Tensor> Backbone::parameters() const { return module().parameters(); }

std::vector<torch::Tensor> Backbone::parameters(ParamGroup group) const {
  std::vector<torch::Tensor> out;
  for (const auto& p : module().named_parameters())
    if (group_of(p.key()) == group) out.push_back(p.value());
  return out;
}

int64_t Backbone::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : module().parameters()) n += p.numel();
  return n;
}

int64_t Backbone::parameter_count(ParamGroup group) const {
  int64_t n = 0;
  for (const auto& p : parameters(group)) n += p.numel();
  return n;
}

void Backbone::set_trainable(ParamGroup group, bool trainable) {
  for (auto& p : parameters(group)) p.set_requires_grad(trainable);
}

void Backbone::train(bool on) { module().train(on); }
bool Backbone::is_training() const { return module().is_training(); }

torch::Device Backbone::device() const {
  auto ps = module().parameters();
  return ps.empty() ? torch::Device(torch::kCPU) : ps.front().device();
}

torch::Dtype Backbone::dtype() const {
  auto ps = module().parameters();
  return ps.empty() ? torch::kFloat32 : ps.front().scalar_type();
}

// ---- compute ------------------------------------------------------------------------

TokenScores Backbone::score(const Batch& batch, const ScoreOptions& options) {
  if (options.temperature <= 0) throw_bad_input("score: temperature must be > 0");
  torch::Tensor logits = forward(with_row_images(*this, batch));
  const int64_t t = batch.width();
  TokenScores s;
  torch::Tensor mask = batch.attention_mask.defined() ? batch.attention_mask.to(torch::kFloat32) : torch::Tensor();
  auto finish = [&](torch::Tensor x) {  // [B,T-1] -> [B,T], 0 at t = 0 and on padding
    x = torch::constant_pad_nd(x, {1, 0}, 0);
    return mask.defined() ? x * mask : x;
  };
  if (t < 2) {
    s.logprobs = torch::zeros({batch.size(), t}, logits.options().dtype(torch::kFloat32));
    if (options.entropies) s.entropies = s.logprobs.clone();
    if (options.log_distribution) s.log_distribution = torch::zeros_like(logits, torch::kFloat32);
    return s;
  }
  torch::Tensor pred = logits.narrow(1, 0, t - 1);
  torch::Tensor targets = batch.token_ids.narrow(1, 1, t - 1);
  s.logprobs = finish(token_logprobs(pred, targets, options.temperature));
  if (options.entropies) s.entropies = finish(token_entropies(pred, options.temperature));
  if (options.log_distribution) {
    torch::Tensor x = pred.to(torch::kFloat32);
    if (options.temperature != 1.0) x = x / options.temperature;
    s.log_distribution = torch::constant_pad_nd(x.log_softmax(-1), {0, 0, 1, 0}, 0);
  }
  return s;
}

Generation Backbone::generate(const Batch& prompts, const SamplingOptions& options) {
  if (options.max_new_tokens < 1) throw_bad_input("generate: max_new_tokens must be >= 1");
  if (prompts.attention_mask.defined() &&
      !prompts.attention_mask.select(1, prompts.width() - 1).to(torch::kBool).all().item<bool>())
    throw_bad_input("generate: prompts must be left-padded (pad_batch(..., PadSide::Left))");
  if (!options.row_generators.empty() && static_cast<int64_t>(options.row_generators.size()) != prompts.size())
    throw_bad_input("generate: " + std::to_string(options.row_generators.size()) + " row generators for " +
                    std::to_string(prompts.size()) + " prompts");
  torch::Generator generator = options.generator ? *options.generator : make_generator(options.seed);
  const std::vector<int64_t> stop_ids = options.stop_token_ids.empty() ? stop_token_ids() : options.stop_token_ids;
  const int64_t b = prompts.size();
  const int64_t n = options.max_new_tokens;
  const int64_t pad = pad_token_id();
  const torch::Device dev = device();

  Generation out;
  {
    c10::InferenceMode inference;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(dev);
    const auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(dev);
    torch::Tensor stops = torch::tensor(stop_ids, torch::kInt64).to(dev);
    torch::Tensor tokens = torch::full({b, n}, pad, i64);
    torch::Tensor logprobs = torch::zeros({b, n}, f32);
    torch::Tensor entropies = options.compute_entropies ? torch::zeros({b, n}, f32) : torch::Tensor();
    torch::Tensor done = torch::zeros({b}, i64.dtype(torch::kBool));
    torch::Tensor lengths = torch::zeros({b}, i64);

    torch::Tensor logits;
    std::unique_ptr<DecodeState> state = prefill(with_row_images(*this, prompts), n, logits);
    int64_t steps = 0;
    torch::Tensor lp, ent;
    for (int64_t step = 0; step < n; ++step) {
      torch::Tensor tok = sample_next(logits, options, generator, lp, options.compute_entropies ? &ent : nullptr);
      tok.masked_fill_(done, pad);
      tokens.select(1, step).copy_(tok);
      logprobs.select(1, step).copy_(lp.masked_fill_(done, 0.0));
      if (options.compute_entropies) entropies.select(1, step).copy_(ent.masked_fill_(done, 0.0));
      lengths.add_(done.logical_not());
      if (stops.numel() > 0) done.logical_or_((tok.unsqueeze(1) == stops).any(1));
      steps = step + 1;
      if (steps == n || done.all().item<bool>()) break;
      logits = decode_step(*state, tok);
    }
    out.tokens = tokens.narrow(1, 0, steps);
    out.logprobs = logprobs.narrow(1, 0, steps);
    if (options.compute_entropies) out.entropies = entropies.narrow(1, 0, steps);
    out.lengths = lengths;
  }
  // Inference tensors cannot be saved for backward: hand out normal ones.
  out.tokens = out.tokens.clone();
  out.logprobs = out.logprobs.clone();
  if (out.entropies.defined()) out.entropies = out.entropies.clone();
  out.lengths = out.lengths.clone();
  out.mask = (torch::arange(out.tokens.size(1), out.lengths.options()).unsqueeze(0) < out.lengths.unsqueeze(1))
                 .to(torch::kInt64);
  return out;
}

// ---- persistence ----------------------------------------------------------------------

SavesExtraFiles::~SavesExtraFiles() = default;

std::vector<std::pair<std::string, torch::Tensor>> Backbone::state() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module().named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : module().named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void Backbone::save(const fs::path& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_io("cannot create checkpoint directory " + dir.string() + ": " + ec.message());
  Json cfg = config();
  cfg["architecture"] = architecture();
  cfg["torch_dtype"] = dtype_name(dtype());
  cfg["device"] = device().str();
  cfg["mstar_version"] = MSTAR_VERSION_STRING;
  auto& registry = BackboneRegistry::instance();
  if (registry.contains(architecture())) cfg["plugin_library"] = registry.get(architecture()).library.string();
  save_safetensors(dir / kWeightsFile, state(), {{"format", "pt"}});
  tokenizer().save(dir / kTokenizerFile);
  if (const auto* extra = dynamic_cast<const SavesExtraFiles*>(this)) extra->save_extra_files(dir);
  write_file_atomic(dir / kConfigFile, cfg.dump(2));  // last: a directory with config.json is complete
}

void Backbone::load_weights(const fs::path& file) { load_safetensors_into(file, state()); }

std::unique_ptr<Backbone> Backbone::load(const fs::path& dir, const LoadOptions& options) {
  return load_backbone(dir, options);
}

std::unique_ptr<Backbone> load_backbone(const fs::path& dir, const LoadOptions& options) {
  const fs::path config_file = dir / kConfigFile;
  if (!fs::exists(config_file)) throw_io(dir.string() + " is not a backbone checkpoint: no " + kConfigFile);
  Json cfg;
  try {
    cfg = Json::parse(read_file(config_file));
  } catch (const Json::exception& e) {
    throw_bad_input(config_file.string() + ": not valid JSON: " + e.what());
  }
  // A Hugging Face directory names its family by model_type, which is the
  // family's registry key (qwen2_5_vl).
  if (cfg.is_object() && !cfg.contains("architecture") && cfg.contains("model_type")) cfg["architecture"] = cfg["model_type"];
  ensure_architecture(cfg, config_file.string(), options.plugin_dirs);
  Tokenizer tokenizer = Tokenizer::load(dir / kTokenizerFile);
  if (const auto info = BackboneRegistry::instance().get(cfg.at("architecture").get<std::string>()); info.loader) {
    LoadOptions given = options;
    if (given.device.empty()) given.device = cfg.value("device", "");
    return info.loader(dir, cfg, std::move(tokenizer), given);
  }
  if (!options.backbone_options.empty())
    throw_bad_input(config_file.string() + ": architecture " + cfg.at("architecture").dump() +
                    " takes no backbone options, got " + options.backbone_options.dump());
  std::unique_ptr<Backbone> model;
  {
    // Random init is overwritten by the weights; keep the global stream as it was.
    DefaultRngGuard keep_rng;
    torch::NoGradGuard no_grad;
    model = BackboneRegistry::instance().create(cfg.at("architecture").get<std::string>(), cfg, std::move(tokenizer));
  }
  const torch::Dtype saved_dtype = parse_dtype(cfg.value("torch_dtype", "float32"));
  model->to(torch::kCPU, saved_dtype);
  model->load_weights(dir / kWeightsFile);
  const std::string device = !options.device.empty() ? options.device : cfg.value("device", "cpu");
  const std::string dtype = !options.dtype.empty() ? options.dtype : cfg.value("torch_dtype", "float32");
  model->to(parse_device(device), parse_dtype(dtype));
  return model;
}

}  // namespace mstar::ml
