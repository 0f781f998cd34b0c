#include <fstream>

#include <gtest/gtest.h>

#include "ml_helpers.h"
#include "mstar/error.h"
#include "mstar/ml/module_util.h"
#include "mstar/ml/tokenizer.h"
#include "mstar/ml/vocabulary.h"

namespace mstar::ml {
namespace {

using testing::TempDir;

TEST(Tokenizer, SpecialTokensComeFirst) {
  Tokenizer tok;
  const auto& specials = default_special_tokens();
  ASSERT_EQ(tok.size(), static_cast<int64_t>(specials.size()));
  for (size_t i = 0; i < specials.size(); ++i) EXPECT_EQ(tok.id(specials[i]), static_cast<int64_t>(i));
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_TRUE(tok.is_special(tok.image_id()));
}

TEST(Tokenizer, SplitsPunctuationAndKeepsSpecialTokensIntact) {
  Tokenizer tok;
  const std::vector<std::string> expected = {"<think>", "A", "is", "red", ".", "</think>", "<answer>",
                                             "T",       "</answer>", "x", "(", "y", ")", "->", "z"};
  auto got = tok.split("<think>A is red.</think><answer> T </answer>\nx(y) ->z");
  // '-' and '>' are isolated separately.
  std::vector<std::string> want = expected;
  want.erase(want.begin() + 13);
  want.insert(want.begin() + 13, {"-", ">"});
  EXPECT_EQ(got, want);
  EXPECT_EQ(tok.split("a<imagex>b"), (std::vector<std::string>{"a", "<", "imagex", ">", "b"}));
  EXPECT_EQ(tok.split("  "), std::vector<std::string>{});
}

TEST(Tokenizer, VocabularyByFrequencyIsDeterministic) {
  const std::vector<std::string> corpus = {"b a a c", "a b d", "c c c"};
  Tokenizer t1 = Tokenizer::build(corpus);
  Tokenizer t2 = Tokenizer::build(corpus);
  EXPECT_EQ(t1, t2);
  const int64_t base = static_cast<int64_t>(default_special_tokens().size());
  EXPECT_EQ(t1.id("c"), base);      // 4 times
  EXPECT_EQ(t1.id("a"), base + 1);  // 3 times
  EXPECT_EQ(t1.id("b"), base + 2);  // 2 times
  EXPECT_EQ(t1.id("d"), base + 3);  // once
  EXPECT_EQ(t1.id("never"), t1.unk_id());

  VocabOptions capped;
  capped.max_size = base + 2;
  capped.always_include = {"zebra"};
  Tokenizer t3 = Tokenizer::build(corpus, capped);
  EXPECT_EQ(t3.size(), base + 2);
  EXPECT_TRUE(t3.find("zebra"));
  EXPECT_TRUE(t3.find("c"));
  EXPECT_FALSE(t3.find("a"));

  VocabOptions min2;
  min2.min_count = 2;
  EXPECT_FALSE(Tokenizer::build(corpus, min2).find("d"));
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  Tokenizer tok = Tokenizer::build({"the red square , is left of the blue circle .", "T F ?"});
  const std::string text = "<think> the red square , left </think> <answer> T </answer>";
  auto ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), "<think> the red square , left </think> <answer> T </answer>");
  EXPECT_EQ(tok.encode(tok.decode(ids)), ids);
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "the red square , left T");
  EXPECT_EQ(tok.encode("purple")[0], tok.unk_id());
  EXPECT_THROW(tok.token(tok.size()), Error);
}

TEST(Tokenizer, HuggingFaceJsonRoundTrip) {
  TempDir dir;
  Tokenizer tok = Tokenizer::build({"alpha beta beta gamma", "x . y"});
  tok.save(dir.path() / "tokenizer.json");
  Tokenizer back = Tokenizer::load(dir.path() / "tokenizer.json");
  EXPECT_EQ(tok, back);
  EXPECT_EQ(back.encode("beta <image> gamma ."), tok.encode("beta <image> gamma ."));

  Json j = tok.to_json();
  EXPECT_EQ(j["model"]["type"], "WordLevel");
  EXPECT_EQ(j["model"]["unk_token"], "<unk>");
  EXPECT_EQ(j["model"]["vocab"]["beta"], tok.id("beta"));
  EXPECT_EQ(j["pre_tokenizer"]["type"], "Sequence");
  ASSERT_EQ(j["added_tokens"].size(), default_special_tokens().size());
  EXPECT_EQ(j["added_tokens"][4]["content"], "<image>");
  EXPECT_TRUE(j["added_tokens"][4]["special"].get<bool>());
}

TEST(Tokenizer, RejectsForeignOrBrokenJson) {
  Tokenizer tok = Tokenizer::build({"a b"});
  Json bpe = tok.to_json();
  bpe["model"]["type"] = "BPE";
  EXPECT_THROW(Tokenizer::from_json(bpe), Error);
  Json holes = tok.to_json();
  holes["model"]["vocab"]["b"] = 999;
  try {
    Tokenizer::from_json(holes, "x/tokenizer.json");
    FAIL() << "accepted non-dense ids";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x/tokenizer.json"), std::string::npos) << e.what();
  }
  Json no_unk = tok.to_json();
  no_unk["model"]["unk_token"] = "[UNK]";
  EXPECT_THROW(Tokenizer::from_json(no_unk), Error);
  TempDir dir;
  write_file_atomic(dir.path() / "t.json", "{not json");
  EXPECT_THROW(Tokenizer::load(dir.path() / "t.json"), Error);
}

// Both backbone families build their vocabulary through these, so the
// order of texts decides token ids for every model in a study.
TEST(Vocabulary, DatasetTextsComeInPathOrderAndBadLinesAreNamed) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "a");
  std::ofstream(dir.path() / "b.jsonl") << R"({"problem": "zebra walks", "answer": "T", "image_id": "x"})" << "\n";
  std::ofstream(dir.path() / "a" / "x.jsonl") << "\n" << R"({"question": "owl?", "response": "yes"})" << "\n";
  std::ofstream(dir.path() / "notes.txt") << "{ not read";
  EXPECT_EQ(dataset_texts(dir.path()), (std::vector<std::string>{"yes", "owl?", "zebra walks", "T"}));

  VocabOptions options;
  options.min_count = 2;
  const Tokenizer tok = build_vocabulary(dataset_texts(dir.path()), options);
  EXPECT_EQ(tok.id("zebra"), tok.unk_id());  // seen once, below min_count
  for (const auto& w : builtin_words()) EXPECT_NE(tok.id(w), tok.unk_id()) << w;

  std::ofstream(dir.path() / "b.jsonl", std::ios::app) << "{broken\n";
  try {
    dataset_texts(dir.path());
    FAIL() << "a line that is not JSON was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.category(), ErrorCategory::BadInput);
    EXPECT_NE(std::string(e.what()).find("b.jsonl:2: not valid JSON"), std::string::npos) << e.what();
  }
}

TEST(ModuleUtil, TokenIdsOutsideTheVocabularyAreBadInput) {
  EXPECT_NO_THROW(check_token_ids(torch::tensor({{0, 4}}, torch::kInt64), 5, "m"));
  for (const torch::Tensor& bad : {torch::tensor({{0, 5}}, torch::kInt64), torch::tensor({{-1}}, torch::kInt64),
                                   torch::tensor({{1.0}}), torch::zeros({0, 3}, torch::kInt64)}) {
    try {
      check_token_ids(bad, 5, "m");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.category(), ErrorCategory::BadInput);
      EXPECT_EQ(std::string(e.what()).rfind("m: ", 0), 0u) << e.what();
    }
  }
}

TEST(ModuleUtil, CopyParametersCopiesValuesAndTrainability) {
  torch::manual_seed(1);
  torch::nn::Linear a(3, 2), b(3, 2);
  a->bias.set_requires_grad(false);
  {
    torch::NoGradGuard no_grad;
    copy_parameters(*a, *b);
  }
  EXPECT_TRUE(torch::equal(a->weight, b->weight));
  EXPECT_TRUE(torch::equal(a->bias, b->bias));
  EXPECT_FALSE(b->bias.requires_grad());
  EXPECT_TRUE(b->weight.requires_grad());
  torch::nn::Linear c(3, 4);
  EXPECT_THROW(copy_parameters(*a, *c), c10::Error);  // shapes differ: torch refuses the copy
}

}  // namespace
}  // namespace mstar::ml
