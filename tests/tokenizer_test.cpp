// mstar::text::HfTokenizer and the Qwen2-VL chat template against Hugging
// Face `tokenizers` and transformers (the reference that
// tests/reference/tokenizer_reference.py writes; tests/tokenizer.cmake), and
// on small hand-made tokenizer.json files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "mstar/error.h"
#include "mstar/text/chat_template.h"
#include "mstar/text/hf_tokenizer.h"

namespace fs = std::filesystem;
using mstar::Error;
using mstar::Json;
using mstar::text::ChatMessage;
using mstar::text::ChatPart;
using mstar::text::HfTokenizer;

namespace {

const fs::path kFixture = fs::path(MSTAR_SOURCE_DIR) / "tests/fixtures/qwen-tokenizer";
const fs::path kReferenceDir = fs::path(MSTAR_BINARY_DIR) / "tokenizer_reference";

const HfTokenizer& qwen() {
  static const HfTokenizer tok = HfTokenizer::load(kFixture / "tokenizer.json");
  return tok;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The reference, or nullptr with the reason it is missing.
const Json* reference(std::string& why) {
  static const Json json = [] {
    const fs::path file = kReferenceDir / "reference.json";
    return fs::exists(file) ? Json::parse(read_text(file)) : Json();
  }();
  if (json.is_null()) {
    const fs::path reason = kReferenceDir / "skip-reason.txt";
    why = fs::exists(reason) ? read_text(reason)
                             : "no " + (kReferenceDir / "reference.json").string() +
                                   " (the ctest test tokenizer_reference makes it: ctest -R tokenizer_reference)";
    return nullptr;
  }
  return &json;
}

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

#define REQUIRE_REFERENCE(ref)                                                          \
  std::string why;                                                                      \
  const Json* ref = reference(why);                                                     \
  if (!ref) {                                                                           \
    if (under_ci()) FAIL() << "CI=true and no tokenizer reference: " << why;            \
    GTEST_SKIP() << "no tokenizer reference: " << why;                                  \
  }

std::vector<int64_t> ids_of(const Json& j) { return j.get<std::vector<int64_t>>(); }

// Compares every case; reports the first few differences in full.
void expect_cases(const HfTokenizer& tok, const Json& cases) {
  int wrong = 0;
  for (const Json& c : cases) {
    const std::string text = c["text"];
    const std::vector<int64_t> ids = tok.encode(text);
    const bool same = ids == ids_of(c["ids"]) && tok.decode(ids) == c["decoded"].get<std::string>() &&
                      tok.decode(ids, true) == c["decoded_skip"].get<std::string>();
    if (!same && ++wrong <= 5) {
      ADD_FAILURE() << "text " << Json(text).dump() << "\n  ids      " << Json(ids).dump() << "\n  expected "
                    << c["ids"].dump() << "\n  decoded  " << Json(tok.decode(ids)).dump() << "\n  expected "
                    << c["decoded"].dump();
    }
  }
  EXPECT_EQ(wrong, 0) << "of " << cases.size() << " strings";
}

TEST(HfTokenizerReference, EncodesAndDecodesLikeHuggingFaceTokenizers) {
  REQUIRE_REFERENCE(ref);
  ASSERT_GE((*ref)["cases"].size(), 5000u);
  expect_cases(qwen(), (*ref)["cases"]);
}

// `tokenizers`' NFC leaves some rare mark sequences unordered (U+05AD
// U+1193D); mstar normalises as Unicode says, giving the ids `tokenizers`
// gives for the standard NFC form.
TEST(HfTokenizerReference, NormalisesAsUnicodeWhereTokenizersDoesNot) {
  REQUIRE_REFERENCE(ref);
  for (const Json& c : (*ref)["nfc_differs"]) {
    EXPECT_EQ(qwen().encode(c["text"].get<std::string>()), ids_of(c["ids"])) << c["text"].dump();
  }
}

TEST(HfTokenizerReference, DecodesCutCharactersAndUnknownIdsLikeTokenizers) {
  REQUIRE_REFERENCE(ref);
  int wrong = 0;
  for (const Json& p : (*ref)["prefixes"]) {
    const std::vector<int64_t> ids = ids_of(p["ids"]);
    if (qwen().decode(ids) != p["decoded"].get<std::string>() ||
        qwen().decode(ids, true) != p["decoded_skip"].get<std::string>()) {
      if (++wrong <= 5) ADD_FAILURE() << "ids " << p["ids"].dump() << " decode to " << Json(qwen().decode(ids)).dump();
    }
  }
  EXPECT_EQ(wrong, 0);
}

// Added-token flags (single_word, lstrip, rstrip, normalized) and the
// GPT-2 reading (no normaliser, ByteLevel's regex), on copies of the file.
TEST(HfTokenizerReference, VariantsAsTokenizersReadsThem) {
  REQUIRE_REFERENCE(ref);
  ASSERT_EQ((*ref)["variants"].size(), 2u);
  for (const Json& variant : (*ref)["variants"]) {
    SCOPED_TRACE(variant["file"].get<std::string>());
    expect_cases(HfTokenizer::load(kReferenceDir / variant["file"].get<std::string>()), variant["cases"]);
  }
}

TEST(HfTokenizerReference, ChatTemplateAsTransformersRendersIt) {
  REQUIRE_REFERENCE(ref);
  const Json& chats = (*ref)["chat"];
  ASSERT_FALSE(chats.empty());
  for (const Json& c : chats) {
    std::vector<ChatMessage> messages;
    for (const Json& m : c["messages"]) {
      ChatMessage message{m["role"], {}};
      for (const Json& part : m["content"]) {
        message.content.push_back(part["type"] == "image" ? ChatPart::image() : ChatPart::of_text(part["text"]));
      }
      messages.push_back(std::move(message));
    }
    mstar::text::ChatTemplateOptions options;
    options.add_generation_prompt = c["add_generation_prompt"];
    options.add_vision_id = c["add_vision_id"];
    const std::string rendered = mstar::text::render_qwen2_vl_chat(messages, options);
    EXPECT_EQ(rendered, c["rendered"].get<std::string>());
    EXPECT_EQ(qwen().encode(rendered), ids_of(c["ids"]));
  }
  // The TFQ prompt (the first conversation) through the one-call helper,
  // with and without a system message.
  EXPECT_EQ(mstar::text::render_qwen2_vl_prompt(chats[0]["system"].get<std::string>(), chats[0]["user"].get<std::string>()),
            chats[0]["rendered"].get<std::string>());
  EXPECT_EQ(mstar::text::render_qwen2_vl_prompt("", chats[1]["user"].get<std::string>()),
            chats[1]["rendered"].get<std::string>());
}

TEST(HfTokenizer, RefusesInvalidUtf8NamingTheOffset) {
  const std::vector<std::pair<std::string, size_t>> bad = {
      {"\xff", 0},          {"abc\xc3", 3},            {"ok \xc0\xaf", 3} /* overlong '/' */,
      {"\xed\xa0\x80", 0} /* surrogate */,  {"x\xf4\x90\x80\x80", 1} /* above U+10FFFF */,
      {"\x80tail", 0},      {"emoji \xf0\x9f\x8e", 6} /* cut off */, {"<|im_start|>\xfe", 12}};
  for (const auto& [text, offset] : bad) {
    try {
      qwen().encode(text);
      ADD_FAILURE() << "accepted invalid UTF-8 at offset " << offset;
    } catch (const Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("offset " + std::to_string(offset)), std::string::npos) << e.what();
    }
  }
}

TEST(HfTokenizer, QwenIdsAndRoundTrips) {
  const HfTokenizer& tok = qwen();
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 151644);
  EXPECT_EQ(tok.token_to_id("<|image_pad|>"), 151655);
  EXPECT_EQ(tok.id_to_token(151645), "<|im_end|>");
  EXPECT_TRUE(tok.is_special(151645));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is an added token, not a special one
  EXPECT_EQ(tok.vocab_size(), 151669);
  for (const std::string text : {"Hello world", "你好，世界 🎉", "  x\n\n\ty  ", "<|im_start|>a<think>", "x = f(y)[0];"}) {
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
  EXPECT_EQ(tok.decode(tok.encode("caf\u00e9 <|im_end|>")), "caf\u00e9 <|im_end|>");
  EXPECT_EQ(tok.decode(tok.encode("caf\u00e9 <|im_end|>"), true), "caf\u00e9 ");
  EXPECT_EQ(tok.decode(tok.encode("cafe\u0301")), "caf\u00e9");  // NFC
}

// One tokenizer shared by threads (its word cache and regex scratch are
// shared) gives each thread what it gives alone.
TEST(HfTokenizer, ConcurrentEncodesAgreeWithSerialOnes) {
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    texts.push_back("line " + std::to_string(i * 7919) + ": 你好 wörld \t  <|im_end|>" + std::string(i % 40, ' ') +
                    "x" + std::to_string(i));
  }
  const HfTokenizer tok = qwen();  // a copy shares the cache
  std::vector<std::vector<int64_t>> serial;
  for (const auto& t : texts) serial.push_back(qwen().encode(t));
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) {
        const size_t j = (i * (k + 1)) % texts.size();
        wrong[k] += tok.encode(texts[j]) != serial[j];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

// A small byte-level tokenizer.json: every printable ASCII character, "Ġ"
// for the space, and the given merges.
Json tiny(const std::vector<std::pair<std::string, std::string>>& merges) {
  Json vocab = Json::object();
  int next = 0;
  for (char c = 0x21; c < 0x7f; ++c) vocab[std::string(1, c)] = next++;
  vocab["\xc4\xa0"] = next++;
  Json list = Json::array();
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    list.push_back(Json::array({a, b}));
  }
  return {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", Json::array()},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
          {"post_processor", nullptr}, {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", list}}}};
}

TEST(HfTokenizer, MergesLowestRankFirst) {
  const auto ids_of_tokens = [](const HfTokenizer& tok, std::vector<std::string> tokens) {
    std::vector<int64_t> ids;
    for (const auto& t : tokens) ids.push_back(*tok.token_to_id(t));
    return ids;
  };
  const HfTokenizer bc_first = HfTokenizer::from_json(tiny({{"b", "c"}, {"a", "b"}, {"a", "bc"}}));
  EXPECT_EQ(bc_first.encode("abc"), ids_of_tokens(bc_first, {"abc"}));
  EXPECT_EQ(bc_first.encode("abab"), ids_of_tokens(bc_first, {"ab", "ab"}));
  const HfTokenizer ab_first = HfTokenizer::from_json(tiny({{"a", "b"}, {"b", "c"}}));
  EXPECT_EQ(ab_first.encode("abc"), ids_of_tokens(ab_first, {"ab", "c"}));
  EXPECT_EQ(ab_first.encode("bc abc"), ids_of_tokens(ab_first, {"bc", "\xc4\xa0", "ab", "c"}));
  // Leftmost first among equal ranks: "aaa" -> "aa" "a", not "a" "aa".
  const HfTokenizer aa = HfTokenizer::from_json(tiny({{"a", "a"}}));
  EXPECT_EQ(aa.encode("aaa"), ids_of_tokens(aa, {"aa", "a"}));
  EXPECT_EQ(aa.decode(aa.encode("a aaa!")), "a aaa!");
}

// Loading `json` fails with a BadInput error that names `key`.
void expect_refused(const Json& json, const std::string& key) {
  try {
    HfTokenizer::from_json(json, "tiny.json");
    ADD_FAILURE() << "accepted a file with a bad " << key;
  } catch (const Error& e) {
    EXPECT_TRUE(e.is_bad_input()) << e.what();
    EXPECT_NE(std::string(e.what()).find("tiny.json: " + key), std::string::npos) << e.what();
  }
}

TEST(HfTokenizer, UnsupportedFeaturesAreRefusedNamingTheKey) {
  const Json base = tiny({{"a", "b"}});
  EXPECT_NO_THROW(HfTokenizer::from_json(base));
  const auto with = [&](const std::string& pointer, const Json& value) {
    Json j = base;
    j[Json::json_pointer(pointer)] = value;
    return j;
  };
  expect_refused(with("/normalizer", {{"type", "NFKC"}}), "normalizer.type");
  expect_refused(with("/truncation", {{"max_length", 8}}), "truncation");
  expect_refused(with("/decoder", {{"type", "WordPiece"}}), "decoder.type");
  expect_refused(with("/post_processor", {{"type", "TemplateProcessing"}}), "post_processor.type");
  expect_refused(with("/model/byte_fallback", true), "model.byte_fallback");
  expect_refused(with("/model/type", "WordPiece"), "model.type");
  expect_refused(with("/model/merges", Json::array({Json::array({"a", "zz"})})), "model.merges[0]");
  expect_refused(with("/pre_tokenizer/add_prefix_space", true), "pre_tokenizer.add_prefix_space");
  expect_refused(with("/something_new", 1), "something_new");
  Json wrong_type = base;
  wrong_type["added_tokens"] = Json::array({{{"id", 200}, {"content", "<x>"}, {"special", "yes"}}});
  expect_refused(wrong_type, "unexpected value");
  Json split_step = Json::object();
  split_step["type"] = "Split";
  split_step["pattern"]["Regex"] = "\\p{L}+";
  split_step["behavior"] = "Isolated";
  Json byte_level = Json::object();
  byte_level["type"] = "ByteLevel";
  byte_level["use_regex"] = false;
  Json split = Json::object();
  split["type"] = "Sequence";
  split["pretokenizers"] = Json::array({split_step, byte_level});
  EXPECT_NO_THROW(HfTokenizer::from_json(with("/pre_tokenizer", split)));
  Json removed = split;
  removed["pretokenizers"][0]["behavior"] = "Removed";
  expect_refused(with("/pre_tokenizer", removed), "pre_tokenizer.pretokenizers[0].behavior");
  Json word = split;
  word["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  expect_refused(with("/pre_tokenizer", word), "pre_tokenizer.pretokenizers[0].pattern.Regex");
  Json broken = split;
  broken["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}+";
  expect_refused(with("/pre_tokenizer", broken), "pre_tokenizer.pretokenizers[0].pattern.Regex: bad regex at column");
  Json no_byte_level = split;
  no_byte_level["pretokenizers"].erase(1);
  expect_refused(with("/pre_tokenizer", no_byte_level), "pre_tokenizer");
}

TEST(Qwen2VlChatTemplate, SplitsImagePlaceholdersAsEasyR1Does) {
  const auto parts = mstar::text::split_image_placeholders("<image>Is it red?<image><image> ok");
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts[0].kind, ChatPart::Kind::Image);
  EXPECT_EQ(parts[1].text, "Is it red?");
  EXPECT_EQ(parts[2].kind, ChatPart::Kind::Image);
  EXPECT_EQ(parts[3].kind, ChatPart::Kind::Image);
  EXPECT_EQ(parts[4].text, " ok");
  EXPECT_EQ(mstar::text::split_image_placeholders("no image").size(), 1u);
}

}  // namespace
