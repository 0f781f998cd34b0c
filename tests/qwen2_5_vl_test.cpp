// backbone/qwen2_5_vl against Hugging Face transformers: the reference
// script (tests/reference/qwen2_5_vl_reference.py) builds tiny random
// Qwen2.5-VL checkpoints and records what transformers computes on them;
// this test loads the same directories and compares. Fixtures are made at
// test time with the project's .venv and cached in the build directory under
// the script's hash. Without transformers the equality tests skip, saying
// why, except under CI=true, where that is a failure.
#include <cstdlib>
#include <fstream>
#include <optional>

#include <unistd.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/safetensors.h"
#include "qwen2_5_vl.h"
#include "qwen2_5_vl_reference.h"

namespace fs = std::filesystem;
using namespace mstar;
using namespace mstar::qwen2_5_vl;

namespace {

// bf16 logits against the float32 reference: measured at most 0.0063 on
// these models (|logits| < 1); three times that is allowed.
constexpr double kBf16Tolerance = 0.02;

struct Case {
  std::string model, name;
  ml::SafeTensors t;
  const torch::Tensor& operator[](const std::string& key) const { return t.at(key); }
};

std::vector<Case> cases(const fs::path& dir) {
  std::vector<Case> out;
  for (const char* model : {"window", "tied"})
    for (const char* name : {"single", "batch"})
      out.push_back({model, name, ml::load_safetensors(dir / (std::string(model) + "_" + name + ".safetensors"))});
  return out;
}

std::vector<torch::Tensor> images_of(const Case& c) {
  std::vector<torch::Tensor> images;
  for (int i = 0; c.t.tensors.end() != std::find_if(c.t.tensors.begin(), c.t.tensors.end(), [&](const auto& p) {
                    return p.first == "image" + std::to_string(i);
                  });
       ++i)
    images.push_back(c["image" + std::to_string(i)]);
  return images;
}

ProcessorConfig processor_of(const fs::path& model_dir) {
  return processor_from_json(Json::parse(read_file(model_dir / "preprocessor_config.json")));
}

Config config_of(const fs::path& model_dir) { return config_from_json(Json::parse(read_file(model_dir / "config.json"))); }

double max_abs_on(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask) {
  const torch::Tensor d = (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs();
  const torch::Tensor m = mask.to(torch::kBool);
  return (d.dim() == 3 ? d.amax(-1) : d).masked_select(m).max().item<double>();
}

using Size = std::pair<int64_t, int64_t>;

TEST(Qwen25VlProcessor, SmartResizeFollowsTransformers) {
  EXPECT_EQ(smart_resize(100, 140, 28, 3136, 23520), Size(112, 140));
  EXPECT_EQ(smart_resize(260, 200, 28, 3136, 23520), Size(168, 112));
  EXPECT_EQ(smart_resize(40, 61, 28, 3136, 23520), Size(56, 84));
  EXPECT_THROW(smart_resize(1, 300, 28, 3136, 23520), Error);
}

TEST(Qwen25VlProcessor, PixelValuesMatchPillowProcessor) {
  REQUIRE_REFERENCE();
  for (const Case& c : cases(ref.dir)) {
    const ProcessedImages p = process_images(images_of(c), processor_of(ref.dir / c.model));
    ASSERT_TRUE(torch::equal(p.grid_thw, c["image_grid_thw"])) << c.model << "/" << c.name;
    ASSERT_EQ(p.pixel_values.sizes(), c["pixel_values"].sizes());
    EXPECT_LE((p.pixel_values - c["pixel_values"]).abs().max().item<double>(), 1e-6) << c.model << "/" << c.name;
  }
}

TEST(Qwen25VlRope, PositionIdsAndDeltasExact) {
  REQUIRE_REFERENCE();
  for (const Case& c : cases(ref.dir)) {
    const RopeIndex r = rope_index(c["input_ids"], c["attention_mask"], c["image_grid_thw"], config_of(ref.dir / c.model));
    EXPECT_TRUE(torch::equal(r.position_ids, c["position_ids"])) << c.model << "/" << c.name;
    EXPECT_TRUE(torch::equal(r.deltas, c["rope_deltas"])) << c.model << "/" << c.name;
  }
}

TEST(Qwen25VlModel, Float32LogitsAndLogProbsMatchTransformers) {
  REQUIRE_REFERENCE();
  torch::NoGradGuard no_grad;
  for (const Case& c : cases(ref.dir)) {
    Qwen2_5_VL model = load_model(ref.dir / c.model, torch::kCPU, torch::kFloat32);
    const torch::Tensor logits = model->forward(c["input_ids"], c["attention_mask"], c["pixel_values"], c["image_grid_thw"]);
    const torch::Tensor mask = c["attention_mask"];
    const double diff = max_abs_on(logits, c["logits"], mask);
    RecordProperty(c.model + "_" + c.name + "_fp32_max_abs", std::to_string(diff));
    EXPECT_LE(diff, 1e-4) << c.model << "/" << c.name;

    // Teacher-forced log-probs of each token given its prefix.
    const torch::Tensor ids = c["input_ids"];
    const torch::Tensor logp = torch::log_softmax(logits, -1);
    torch::Tensor lp = torch::zeros(ids.sizes(), torch::kFloat32);
    lp.narrow(1, 1, ids.size(1) - 1).copy_(
        logp.narrow(1, 0, ids.size(1) - 1).gather(-1, ids.narrow(1, 1, ids.size(1) - 1).unsqueeze(-1)).squeeze(-1));
    // Where x_{t-1} is padding (a left-padded row's first token) the prediction is of no use to anyone.
    torch::Tensor scored = mask.clone();
    scored.narrow(1, 1, ids.size(1) - 1).mul_(mask.narrow(1, 0, ids.size(1) - 1));
    scored.select(1, 0).zero_();
    const double lp_diff = max_abs_on(lp, c["token_logprobs"], scored);
    RecordProperty(c.model + "_" + c.name + "_logprob_max_abs", std::to_string(lp_diff));
    EXPECT_LE(lp_diff, 1e-4) << c.model << "/" << c.name;

    // Argmax identical wherever transformers' top-2 margin exceeds 1e-3.
    const auto top2 = c["logits"].topk(2, -1);
    const torch::Tensor margin = std::get<0>(top2).select(-1, 0) - std::get<0>(top2).select(-1, 1);
    const torch::Tensor decided = (margin > 1e-3) & mask.to(torch::kBool);
    const torch::Tensor agree = logits.argmax(-1) == std::get<1>(top2).select(-1, 0);
    EXPECT_TRUE(agree.masked_select(decided).all().item<bool>()) << c.model << "/" << c.name;
    EXPECT_GT(decided.sum().item<int64_t>(), 0);
    if (c.name == "single") {
      const int64_t start = c["response_start"].item<int64_t>();
      EXPECT_EQ(ids.size(1) - start, 32) << "the response is 32 tokens";
    }
  }
}

TEST(Qwen25VlModel, GreedyGenerationMatchesTransformers) {
  REQUIRE_REFERENCE();
  c10::InferenceMode inference;
  for (const Case& c : cases(ref.dir)) {
    if (c.name != "batch") continue;
    Qwen2_5_VL model = load_model(ref.dir / c.model, torch::kCPU, torch::kFloat32);
    const torch::Tensor expected = c["generated"];
    ProcessedImages images{c["pixel_values"], c["image_grid_thw"]};
    torch::Tensor logits;
    auto state = prefill(model, c["input_ids"], c["attention_mask"], images, expected.size(1), logits);
    std::vector<torch::Tensor> tokens;
    const torch::Tensor expected_logits = c["generated_logits"];
    for (int64_t step = 0; step < expected.size(1); ++step) {
      EXPECT_LE((logits - expected_logits.select(1, step)).abs().max().item<double>(), 1e-4) << c.model << " step " << step;
      tokens.push_back(logits.argmax(-1));
      if (step + 1 < expected.size(1)) logits = decode_step(model, *state, tokens.back());
    }
    EXPECT_TRUE(torch::equal(torch::stack(tokens, 1), expected))
        << c.model << ": " << torch::stack(tokens, 1) << " vs " << expected;
  }
}

// A writable copy of a reference checkpoint.
fs::path copy_model(const fs::path& from, const std::string& name) {
  const fs::path to = fs::path(MSTAR_BINARY_DIR) / "qwen2_5_vl_test_tmp" / name;
  fs::remove_all(to);
  fs::create_directories(to.parent_path());
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

std::string load_error(const fs::path& dir) {
  try {
    load_model(dir, torch::kCPU, torch::kFloat32);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Qwen25VlLoader, ErrorsNameTheFileAndTensor) {
  REQUIRE_REFERENCE();
  const Json index = Json::parse(read_file(ref.dir / "window/model.safetensors.index.json"));
  const std::string shard = index["weight_map"]["model.norm.weight"].get<std::string>();

  const fs::path missing = copy_model(ref.dir / "window", "missing_shard");
  fs::remove(missing / shard);
  std::string msg = load_error(missing);
  EXPECT_NE(msg.find(shard), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing shard"), std::string::npos) << msg;

  const fs::path truncated = copy_model(ref.dir / "window", "truncated");
  fs::resize_file(truncated / shard, fs::file_size(truncated / shard) - 100);
  msg = load_error(truncated);
  EXPECT_NE(msg.find(shard), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  const fs::path shape = copy_model(ref.dir / "window", "shape");
  Json cfg = Json::parse(read_file(shape / "config.json"));
  cfg["text_config"]["intermediate_size"] = 80;
  std::ofstream(shape / "config.json") << cfg.dump();
  msg = load_error(shape);
  EXPECT_NE(msg.find("mlp."), std::string::npos) << msg;
  EXPECT_NE(msg.find("96] but the model expects [64, 80]"), std::string::npos) << msg;

  // The index places a tensor in a shard that lacks it.
  const fs::path misplaced = copy_model(ref.dir / "window", "misplaced");
  Json moved = index;
  const std::string home = index["weight_map"]["visual.patch_embed.proj.weight"].get<std::string>();
  const std::string first = "model-00001-of-00010.safetensors", second = "model-00002-of-00010.safetensors";
  moved["weight_map"]["visual.patch_embed.proj.weight"] = home == first ? second : first;
  std::ofstream(misplaced / "model.safetensors.index.json") << moved.dump();
  msg = load_error(misplaced);
  EXPECT_NE(msg.find("lacks tensor 'visual.patch_embed.proj.weight'"), std::string::npos) << msg;

  // An integer tensor where the model has a float parameter.
  const fs::path dtype = copy_model(ref.dir / "tied", "dtype");
  ml::SafeTensors weights = ml::load_safetensors(dtype / "model.safetensors");
  for (auto& [name, t] : weights.tensors)
    if (name == "model.norm.weight") t = t.to(torch::kInt64);
  ml::save_safetensors(dtype / "model.safetensors", weights.tensors);
  msg = load_error(dtype);
  EXPECT_NE(msg.find("tensor 'model.norm.weight': dtype I64 but the model expects F32"), std::string::npos) << msg;

  // The tied checkpoint has no lm_head.weight: declared untied, it is missing.
  const fs::path untied = copy_model(ref.dir / "tied", "untied");
  cfg = Json::parse(read_file(untied / "config.json"));
  cfg["tie_word_embeddings"] = false;
  std::ofstream(untied / "config.json") << cfg.dump();
  msg = load_error(untied);
  EXPECT_NE(msg.find("missing tensor 'lm_head.weight'"), std::string::npos) << msg;
}

TEST(Qwen25VlBackbone, CloneGroupsAndBatchForward) {
  REQUIRE_REFERENCE();
  auto backbone = load_backbone(ref.dir / "window", ml::Tokenizer());
  EXPECT_EQ(backbone->architecture(), "qwen2_5_vl");
  EXPECT_EQ(backbone->parameter_count(), backbone->parameter_count(ml::ParamGroup::Vision) +
                                             backbone->parameter_count(ml::ParamGroup::Projector) +
                                             backbone->parameter_count(ml::ParamGroup::Language));
  EXPECT_GT(backbone->parameter_count(ml::ParamGroup::Projector), 0);
  EXPECT_EQ(backbone->group_of("visual.blocks.0.attn.qkv.weight"), ml::ParamGroup::Vision);
  EXPECT_EQ(backbone->group_of("visual.merger.mlp.0.weight"), ml::ParamGroup::Projector);

  // A square image through Backbone::forward: the processor runs inside.
  const Config config = config_of(ref.dir / "window");
  const int64_t n = backbone->image_token_count();
  std::vector<int64_t> ids = {290, 5, 291, 290, 7, config.vision_start_id};
  ids.insert(ids.end(), static_cast<size_t>(n), config.image_token_id);
  ids.insert(ids.end(), {config.vision_end_id, 9, 291, 290, 11});
  ml::Batch batch = ml::pad_batch({ids}, 0, ml::PadSide::Left);
  batch.images = torch::rand({1, 3, backbone->image_size(), backbone->image_size()});
  torch::NoGradGuard no_grad;
  const torch::Tensor a = backbone->forward(batch);
  auto copy = backbone->clone();
  EXPECT_TRUE(torch::equal(a, copy->forward(batch)));
  ml::SamplingOptions greedy;
  greedy.greedy = true;
  greedy.max_new_tokens = 4;
  greedy.stop_token_ids = {-1};
  const ml::Generation g = backbone->generate(batch, greedy);
  EXPECT_EQ(g.tokens.size(1), 4);
  EXPECT_EQ(g.tokens[0][0].item<int64_t>(), a[0][-1].argmax().item<int64_t>());
}

}  // namespace

namespace {

// bf16 weights and activations (RMSNorm, rotary and softmax statistics in
// float32 as transformers keeps them) against the float32 reference: the
// tolerance is what bf16's 8-bit mantissa allows through 3 decoder layers
// on these logits (|logit| < 1), not an equality claim.
TEST(Qwen25VlModel, Bfloat16LogitsNearFloat32Reference) {
  REQUIRE_REFERENCE();
  torch::NoGradGuard no_grad;
  for (const Case& c : cases(ref.dir)) {
    Qwen2_5_VL model = load_model(ref.dir / c.model, torch::kCPU, torch::kBFloat16);
    EXPECT_EQ(model->model->embed_tokens.scalar_type(), torch::kBFloat16);
    const torch::Tensor logits = model->forward(c["input_ids"], c["attention_mask"], c["pixel_values"], c["image_grid_thw"]);
    ASSERT_EQ(logits.scalar_type(), torch::kBFloat16);
    const double diff = max_abs_on(logits, c["logits"], c["attention_mask"]);
    RecordProperty(c.model + "_" + c.name + "_bf16_max_abs", std::to_string(diff));
    EXPECT_LE(diff, kBf16Tolerance) << c.model << "/" << c.name;
  }
}

// What Backbone::save writes, backbone/load reads back through the registry.
TEST(Qwen25VlBackbone, SaveAndLoadThroughTheRegistry) {
  REQUIRE_REFERENCE();
  auto backbone = load_backbone(ref.dir / "tied", ml::Tokenizer());
  const fs::path dir = fs::path(MSTAR_BINARY_DIR) / "qwen2_5_vl_test_tmp" / "saved";
  fs::remove_all(dir);
  backbone->save(dir);
  auto again = ml::load_backbone(dir);
  EXPECT_EQ(again->architecture(), "qwen2_5_vl");
  EXPECT_EQ(again->image_size(), backbone->image_size());
  const Case c{"tied", "single", ml::load_safetensors(ref.dir / "tied_single.safetensors")};
  torch::NoGradGuard no_grad;
  Qwen2_5_VL reloaded = load_model(dir, torch::kCPU, torch::kFloat32);  // the saved directory is Hugging Face's layout too
  const torch::Tensor logits = reloaded->forward(c["input_ids"], c["attention_mask"], c["pixel_values"], c["image_grid_thw"]);
  EXPECT_LE(max_abs_on(logits, c["logits"], c["attention_mask"]), 1e-4);
  auto params = again->module().named_parameters();
  for (const auto& p : backbone->module().named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), params[p.key()])) << p.key();
}

// Not run on the 2-core VM (no GPU); skips without CUDA.
TEST(Qwen25VlModel, CudaFloat32LogitsMatchTransformers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  REQUIRE_REFERENCE();
  torch::NoGradGuard no_grad;
  for (const Case& c : cases(ref.dir)) {
    Qwen2_5_VL model = load_model(ref.dir / c.model, torch::kCUDA, torch::kFloat32);
    const torch::Tensor logits = model->forward(c["input_ids"], c["attention_mask"], c["pixel_values"], c["image_grid_thw"]);
    EXPECT_TRUE(logits.is_cuda());
    EXPECT_LE(max_abs_on(logits.cpu(), c["logits"], c["attention_mask"]), 1e-4) << c.model << "/" << c.name;
  }
}

TEST(Qwen25VlBackbone, OptionsSetPixelsImageSizeAndFreezeVision) {
  REQUIRE_REFERENCE();
  BackboneOptions extra;
  extra.image_size = 224;
  extra.max_pixels = 28 * 28 * 16;
  extra.freeze_vision = true;
  auto backbone = load_backbone(ref.dir / "window", ml::Tokenizer(), {}, extra);
  EXPECT_EQ(backbone->image_size(), 224);
  EXPECT_EQ(backbone->image_token_count(), 16);  // 224x224 -> 112x112 under max_pixels: 8x8 patches, 4x4 tokens
  for (const auto& p : backbone->module().named_parameters())
    EXPECT_EQ(p.value().requires_grad(), backbone->group_of(p.key()) != ml::ParamGroup::Vision) << p.key();
  EXPECT_EQ(backbone->config()["processor"]["size"]["longest_edge"], 28 * 28 * 16);
  extra.min_pixels = 28 * 28 * 20;
  EXPECT_THROW(load_backbone(ref.dir / "window", ml::Tokenizer(), {}, extra), Error);
}

}  // namespace
