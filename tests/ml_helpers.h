// Shared by the ml_*.cpp tests: temporary directories, a NodeContext that
// runs a plugin node in-process, and small tiny_vlm models built through
// the backbone registry (the way algorithm plugins reach them).
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/backbone.h"
#include "mstar/ml/registry.h"
#include "mstar/node.h"
#include "mstar/plugin.h"

namespace mstar::ml::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("mstar_ml_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline void load_tiny_vlm() { load_library(MSTAR_TINY_VLM_PLUGIN); }

// A NodeContext for running one node in the test process.
class FakeContext final : public NodeContext {
 public:
  FakeContext(const PluginInfo& info, const Json& given, fs::path out, std::map<std::string, Artifact> inputs = {})
      : out_(std::move(out)), inputs_(std::move(inputs)) {
    std::vector<ParamIssue> issues;
    params_ = Params(validate_params(info.params, given, issues));
    for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
    fs::create_directories(out_);
    resume_ = out_ / ".resume";
  }
  const Params& params() const override { return params_; }
  const Artifact* input(std::string_view name) const override {
    auto it = inputs_.find(std::string(name));
    return it == inputs_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> input_names() const override {
    std::vector<std::string> n;
    for (const auto& [k, v] : inputs_) n.push_back(k);
    return n;
  }
  const fs::path& output_dir() const override { return out_; }
  void log(int64_t, std::string_view, double) override {}
  void summary(std::string_view key, double value) override { summaries[std::string(key)] = value; }
  void annotate(std::string_view key, const Json& value) override { manifest[std::string(key)] = value; }
  Logger& logger() override { return logger_; }
  uint64_t seed() const override { return seed_value; }
  int threads() const override { return 1; }
  bool cancelled() const override { return false; }
  const fs::path& resume_dir() const override { return resume_; }
  std::shared_ptr<void> create_component(const Json& spec, std::string_view) override {
    throw Error(ErrorCategory::BadInput, "FakeContext builds no components (asked for " + spec.dump() + ")");
  }

  Json manifest = Json::object();
  std::map<std::string, double> summaries;
  uint64_t seed_value = 7;

 private:
  Params params_;
  fs::path out_, resume_;
  std::map<std::string, Artifact> inputs_;
  NullLogger logger_;
};

// Runs plugin `id` ("backbone/tiny_vlm") of the tiny_vlm library in-process
// and returns its completed artifact.
inline Artifact run_tiny_vlm_node(const Json& params, const fs::path& out, std::map<std::string, Artifact> inputs = {},
                                  uint64_t seed = 7) {
  load_tiny_vlm();
  void* handle = dlopen(MSTAR_TINY_VLM_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr);
  auto entry = reinterpret_cast<const LibraryDescriptor* (*)()>(dlsym(handle, MSTAR_PLUGIN_ENTRY_SYMBOL));
  EXPECT_NE(entry, nullptr);
  const LibraryDescriptor* lib = entry();
  const PluginDescriptor* plugin = nullptr;
  for (uint32_t i = 0; i < lib->plugin_count; ++i) {
    const PluginInfo candidate = PluginInfo::from_json(Json::parse(lib->plugins[i].metadata_json));
    if (candidate.kind == "backbone" && candidate.name == "tiny_vlm") plugin = &lib->plugins[i];
  }
  EXPECT_NE(plugin, nullptr);
  PluginInfo info = PluginInfo::from_json(Json::parse(plugin->metadata_json));
  FakeContext ctx(info, params, out, std::move(inputs));
  ctx.seed_value = seed;
  char message[2048] = {0};
  const int rc = plugin->run(&ctx, message, sizeof message);
  EXPECT_EQ(rc, kRunOk) << message;
  Json manifest = ctx.manifest;
  manifest["plugin"] = info.id();
  manifest["key"] = "test";
  write_file_atomic(out / kManifestFile, manifest.dump(2));
  return Artifact::open(out);
}

// Words of the toy corpora used by the backbone tests.
inline std::vector<std::string> toy_corpus() {
  return {"the red square is left of the blue circle .", "<think> it is red </think> <answer> T </answer>",
          "<answer> F </answer>", "is the circle blue ?", "yes no T F"};
}

// A small tiny_vlm config: 32x32 images, patch 8 (qwen: 4 image tokens; llava: 16).
inline Json tiny_config(const std::string& family, const Tokenizer& tok, int64_t text_layers = 2) {
  return Json{{"family", family},
              {"image_size", 32},
              {"patch_size", 8},
              {"merge_size", 2},
              {"image_token_id", tok.image_id()},
              {"vision_config", {{"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 2}}},
              {"text_config",
               {{"vocab_size", tok.size()},
                {"hidden_size", 32},
                {"num_hidden_layers", text_layers},
                {"num_attention_heads", 4},
                {"num_key_value_heads", 2},
                {"max_position_embeddings", 256}}}};
}

inline std::unique_ptr<Backbone> make_tiny(const std::string& family, uint64_t seed = 1) {
  load_tiny_vlm();
  torch::manual_seed(seed);
  Tokenizer tok = Tokenizer::build(toy_corpus());
  return BackboneRegistry::instance().create("tiny_vlm", tiny_config(family, tok), tok);
}

// Random prompts of different lengths with one image each, left-padded.
inline Batch random_prompts(const Backbone& model, int64_t count, uint64_t seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  const auto& vocab = model.tokenizer().vocabulary();
  std::vector<std::string> words;
  for (const auto& w : vocab)
    if (!model.tokenizer().is_special(model.tokenizer().id(w))) words.push_back(w);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    std::string text;
    const int n = 2 + static_cast<int>(rng() % 7);
    for (int j = 0; j < n; ++j) text += words[rng() % words.size()] + " ";
    if (i % 2) text = "look <image> " + text;  // placeholder inside the text for odd rows
    prompts.push_back(model.build_prompt(i % 3 == 0 ? "be brief" : "", text, true));
  }
  Batch b = pad_batch(prompts, model.pad_token_id(), PadSide::Left);
  torch::Generator gen = make_generator(seed);
  b.images = torch::rand({count, 3, model.image_size(), model.image_size()}, gen, torch::kFloat32);
  return b;
}

inline double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace mstar::ml::testing
