// A Hugging Face Qwen2.5-VL directory through ml::load_backbone (what
// backbone/load, algorithm/grpo and the benchmarks call): its byte-level BPE
// tokenizer with the roles its files give, and the TFQ prompt mstar builds
// against transformers' chat template + processor ids on the "vocab" model
// of tests/reference/qwen2_5_vl_reference.py (the real Qwen vocabulary).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/ml/backbone.h"
#include "qwen2_5_vl_reference.h"

namespace fs = std::filesystem;
using namespace mstar;

namespace {

const Json& vocab_index(const fs::path& dir) {
  static const Json j = Json::parse(read_file(dir / "index.json")).at("vocab");
  return j;
}

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::path(MSTAR_BINARY_DIR) / "qwen2_5_vl_test_tmp" / ("tfq_" + name + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void expect_tfq_prompts_match(const ml::Backbone& model, const Json& vocab) {
  ASSERT_EQ(model.image_token_count(), vocab.at("image_tokens").get<int64_t>());
  for (const auto& p : vocab.at("prompts")) {
    const std::string user = p.at("user");
    EXPECT_EQ(model.build_prompt(p.at("system").get<std::string>(), user), p.at("input_ids").get<std::vector<int64_t>>())
        << p.at("text").get<std::string>();
    const std::string response = p.at("response");
    const auto response_ids = p.at("response_ids").get<std::vector<int64_t>>();
    EXPECT_EQ(model.encode_response(response), response_ids) << response;
    EXPECT_EQ(model.decode_response(response_ids), response);
  }
}

}  // namespace

TEST(Qwen25VlTfq, HubDirectoryLoadsWithItsBpeTokenizerAndRoles) {
  REQUIRE_REFERENCE();
  const Json& vocab = vocab_index(ref.dir);
  auto model = ml::load_backbone(ref.dir / "vocab");  // config.json has model_type, no "architecture"
  EXPECT_EQ(model->architecture(), "qwen2_5_vl");
  const ml::Tokenizer& tok = model->tokenizer();
  ASSERT_TRUE(tok.is_byte_level());
  EXPECT_EQ(tok.pad_id(), vocab.at("pad_id").get<int64_t>());    // <|endoftext|>
  EXPECT_EQ(tok.eos_id(), vocab.at("eos_id").get<int64_t>());    // <|im_end|>
  EXPECT_EQ(tok.image_id(), vocab.at("image_id").get<int64_t>());  // <|image_pad|>
  // tokenizer_config.json's bos_token is null: generation_config.json's bos_token_id names it.
  EXPECT_EQ(tok.bos_id(), vocab.at("pad_id").get<int64_t>());
  EXPECT_EQ(model->pad_token_id(), tok.pad_id());
  const auto stops = model->stop_token_ids();
  EXPECT_NE(std::find(stops.begin(), stops.end(), tok.eos_id()), stops.end());
  EXPECT_EQ(model->image_size(), vocab.at("image_size").get<int64_t>());
}

TEST(Qwen25VlTfq, PromptIdsEqualTransformersChatTemplateAndProcessor) {
  REQUIRE_REFERENCE();
  auto model = ml::load_backbone(ref.dir / "vocab");
  expect_tfq_prompts_match(*model, vocab_index(ref.dir));
  EXPECT_THROW(model->build_prompt("", "two <image> images <image>"), Error);
  EXPECT_THROW(model->build_prompt("", "an <image> where none was given", false), Error);
  EXPECT_THROW(model->build_prompt("", "<|image_pad|> typed into the text"), Error);
}

// The prompt runs through the model: a forward pass and a sampled response.
TEST(Qwen25VlTfq, PromptRunsThroughForwardAndGenerate) {
  REQUIRE_REFERENCE();
  auto model = ml::load_backbone(ref.dir / "vocab");
  const auto& p = vocab_index(ref.dir).at("prompts")[0];
  ml::Batch batch = ml::pad_batch({model->build_prompt("", p.at("user").get<std::string>())}, model->pad_token_id(),
                                  ml::PadSide::Left);
  const int64_t s = model->image_size();
  batch.images = torch::rand({1, 3, s, s});
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->forward(batch).size(2), 151936);
  ml::Generation g = model->generate(batch, {.max_new_tokens = 4, .temperature = 1.0, .seed = 3});
  EXPECT_EQ(g.tokens.size(0), 1);
  EXPECT_GE(g.lengths[0].item<int64_t>(), 1);
}

// Backbone::save keeps the tokenizer and its roles (tokenizer_config.json).
TEST(Qwen25VlTfq, SavedModelReloadsWithTheSameTokenizer) {
  REQUIRE_REFERENCE();
  auto model = ml::load_backbone(ref.dir / "vocab");
  const fs::path dir = scratch("saved");
  model->save(dir);
  auto again = ml::load_backbone(dir);
  EXPECT_TRUE(again->tokenizer() == model->tokenizer());
  expect_tfq_prompts_match(*again, vocab_index(ref.dir));
  fs::remove_all(dir);
}

// Without tokenizer_config.json the roles come from generation_config.json;
// a role naming a token the vocabulary lacks is an error naming the file.
TEST(Qwen25VlTfq, RolesFollowTheCheckpointFiles) {
  REQUIRE_REFERENCE();
  const fs::path dir = scratch("roles");
  for (const char* f : {"tokenizer.json", "generation_config.json", "config.json"})
    fs::copy_file(ref.dir / "vocab" / f, dir / f);
  const ml::Tokenizer tok = ml::Tokenizer::load(dir / "tokenizer.json");
  const Json gen = Json::parse(read_file(dir / "generation_config.json"));
  EXPECT_EQ(tok.pad_id(), gen.at("pad_token_id").get<int64_t>());
  EXPECT_EQ(tok.eos_id(), gen.at("eos_token_id")[0].get<int64_t>());
  write_file_atomic(dir / "tokenizer_config.json", R"({"pad_token": "<|no such token|>"})");
  try {
    ml::Tokenizer::load(dir / "tokenizer.json");
    FAIL() << "a pad_token outside the vocabulary was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("pad_token"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
