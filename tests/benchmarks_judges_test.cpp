// The judge components, loaded from the built plugin library the way the
// host builds components: judge/rubric on hand-written answers, and
// judge/openai against a local OpenAI-compatible server (cpp-httplib in a
// thread on 127.0.0.1) that also misbehaves on purpose.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "mstar/judge.h"
#include "mstar/plugin.h"

namespace {

using mstar::Json;
using mstar::Judge;
using mstar::JudgeResult;

class NoComponents final : public mstar::ComponentHost {
 public:
  std::shared_ptr<void> create_component(const Json& spec, std::string_view) override {
    throw mstar::Error(mstar::ErrorCategory::BadInput, "no nested components here: " + spec.dump());
  }
};

// Builds judge/NAME with validated params from its plugin library
// (judge/rubric is built with the implication world, judge/openai in
// libmstar_judges.so). Throws what the component's constructor reports (as
// mstar::Error).
std::shared_ptr<Judge> make_judge(const std::string& name, const Json& given = Json::object()) {
  const char* library = name == "rubric" ? MSTAR_WORLD_PLUGIN : MSTAR_JUDGES_PLUGIN;
  void* handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);  // refcounted: the same handle every time
  if (!handle) throw std::runtime_error(std::string("dlopen: ") + dlerror());
  auto entry = reinterpret_cast<const mstar::LibraryDescriptor* (*)()>(dlsym(handle, MSTAR_PLUGIN_ENTRY_SYMBOL));
  const mstar::LibraryDescriptor* lib = entry();
  for (uint32_t i = 0; i < lib->plugin_count; ++i) {
    const auto info = mstar::PluginInfo::from_json(Json::parse(lib->plugins[i].metadata_json));
    if (info.id() != "judge/" + name) continue;
    EXPECT_EQ(info.interface_name, Judge::kInterface);
    std::vector<mstar::ParamIssue> issues;
    const Json params = mstar::validate_params(info.params, given, issues);
    for (const auto& issue : issues) ADD_FAILURE() << issue.path << ": " << issue.message;
    static NoComponents host;
    mstar::DeleteFn deleter = nullptr;
    char message[1024] = {0};
    void* object =
        lib->plugins[i].create(Judge::kInterface, params.dump().c_str(), &host, &deleter, message, sizeof message);
    if (!object) throw mstar::Error(mstar::ErrorCategory::BadInput, message);
    return std::shared_ptr<Judge>(static_cast<Judge*>(object), [deleter](Judge* j) { deleter(j); });
  }
  throw std::runtime_error("no judge/" + name + " in " + library);
}

// An osq.jsonl row of the implication world (agent black heart = fearful
// love, patient green sun = envious hope, arrow = "leads to").
Json osq_item(const std::string& response) {
  Json row = Json::parse(R"({
    "answer": "fearful love leads to envious hope.",
    "facts": {"agent": {"colour": "black", "concept": "love", "glyph": "heart", "tone": "fear"},
              "meaning": "leads to",
              "patient": {"colour": "green", "concept": "hope", "glyph": "sun", "tone": "envy"},
              "relation": "arrow", "symmetric": false, "tone_words": ["fearful", "envious"]},
    "problem": "<image> what message does this image convey? answer in one sentence."})");
  row["response"] = response;
  return row;
}

// ---- judge/rubric ------------------------------------------------------------------

TEST(RubricJudge, ScoresTheFiveDimensionsFromTheFacts) {
  auto judge = make_judge("rubric");
  struct Case {
    const char* answer;
    double score;
  };
  const Case cases[] = {
      {"fearful love leads to envious hope.", 5},        // everything
      {"Fear-stricken LOVE leads to envious hope!", 5},  // case and punctuation do not matter
      {"love leads to hope.", 4},                        // no tones: emotion 0, deep 0.5
      {"hope leads to love.", 3},                        // roles swapped: deep 0
      {"a black heart and a green sun.", 2},             // surface only
      {"the image shows a red crown.", 1},               // wrong symbol, wrong colour
      {"", 1},
  };
  for (const auto& c : cases) {
    const JudgeResult r = judge->judge(osq_item(c.answer));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.score, c.score) << c.answer << " -> " << r.raw;
    EXPECT_EQ(r.dimensions.size(), 5u);
  }
  const JudgeResult full = judge->judge(osq_item("fearful love leads to envious hope."));
  for (const auto& [name, value] : full.dimensions) EXPECT_DOUBLE_EQ(value, 1.0) << name;
  const JudgeResult bare = judge->judge(osq_item("love leads to hope."));
  EXPECT_DOUBLE_EQ(bare.dimensions.at("emotion"), 0.0);
  EXPECT_DOUBLE_EQ(bare.dimensions.at("deep"), 0.5);
  EXPECT_DOUBLE_EQ(bare.dimensions.at("domain"), 1.0);
}

TEST(RubricJudge, NamingEveryConceptIsNoShortcut) {
  auto judge = make_judge("rubric");
  const JudgeResult r = judge->judge(osq_item(
      "power time love money knowledge hope freedom faith danger home nature truth leads to dominates confronts"));
  ASSERT_TRUE(r.ok);
  EXPECT_LT(r.dimensions.at("domain"), 0.2);
  EXPECT_LT(r.dimensions.at("rhetoric"), 0.5);
  EXPECT_LE(r.score, 3);
}

TEST(RubricJudge, SymmetricAndUnaryRelations) {
  auto judge = make_judge("rubric");
  Json item = osq_item("");
  item["facts"]["meaning"] = "confronts";
  item["facts"]["relation"] = "facing";
  item["facts"]["symmetric"] = true;
  item["response"] = "envious hope confronts fearful love.";  // swapped roles are fine when symmetric
  JudgeResult r = judge->judge(item);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 5) << r.raw;

  item["facts"]["meaning"] = "is fragile";
  item["facts"]["relation"] = "cracked";
  item["facts"]["symmetric"] = false;
  item["facts"]["patient"] = nullptr;
  item["response"] = "fearful love is fragile.";
  r = judge->judge(item);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 5) << r.raw;
  item["response"] = "love and hope are fragile.";  // base verb form; a concept that is not there
  r = judge->judge(item);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_DOUBLE_EQ(r.dimensions.at("domain"), 0.5);
  EXPECT_DOUBLE_EQ(r.dimensions.at("rhetoric"), 1.0);
}

TEST(RubricJudge, RowsWithoutWorldFactsAreFailuresNotErrors) {
  auto judge = make_judge("rubric");
  const JudgeResult r = judge->judge(Json{{"response", "anything"}, {"answer", "a human answer"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no world facts"), std::string::npos) << r.error;
  Json odd = osq_item("love leads to hope.");
  odd["facts"]["symmetric"] = "yes";  // a field of the wrong type
  const JudgeResult malformed = judge->judge(odd);
  EXPECT_FALSE(malformed.ok);
  EXPECT_NE(malformed.error.find("malformed item"), std::string::npos) << malformed.error;
  const auto all = judge->judge_all({osq_item("love leads to hope."), Json{{"response", "x"}}});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].ok);
  EXPECT_FALSE(all[1].ok);
}

// ---- judge/openai ------------------------------------------------------------------

// A chat-completions server whose reply depends on the answer being judged.
class FakeOpenAi {
 public:
  FakeOpenAi() {
    server_.Post("/v1/chat/completions",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeOpenAi() {
    server_.stop();
    thread_.join();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return base() + "/v1/chat/completions"; }
  int hits(const std::string& answer) {
    std::lock_guard lock(mutex_);
    return hits_[answer];
  }
  int max_in_flight() const { return max_in_flight_; }
  Json last_request() {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  static std::string reply(const std::string& content) {
    return Json{{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}}}}.dump();
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const int now = ++in_flight_;
    for (int seen = max_in_flight_; now > seen && !max_in_flight_.compare_exchange_weak(seen, now);) {
    }
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{in_flight_};

    if (req.get_header_value("Authorization") != "Bearer sk-test") {
      res.status = 401;
      res.set_content(R"({"error": "bad key"})", "application/json");
      return;
    }
    const Json body = Json::parse(req.body);
    const std::string prompt = body["messages"][0]["content"][0]["text"];
    const std::string marker = "model answer: ";
    const std::string answer = prompt.substr(prompt.rfind(marker) + marker.size(), std::string::npos);
    const std::string key = answer.substr(0, answer.find('\n'));
    int hit;
    {
      std::lock_guard lock(mutex_);
      hit = ++hits_[key];
      last_ = body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (key == "good") return res.set_content(reply("[4 points]"), "application/json");
    if (key == "decimal") return res.set_content(reply("Rating: [3.5 Points]"), "application/json");
    if (key == "out of range") return res.set_content(reply("[9 points]"), "application/json");
    if (key == "no score") return res.set_content(reply("I cannot rate this."), "application/json");
    if (key == "not json") return res.set_content("<html>gateway</html>", "text/html");
    if (key == "no choices") return res.set_content(R"({"object": "chat.completion"})", "application/json");
    if (key == "parts")
      return res.set_content(
          Json{{"choices", {{{"message", {{"content", {{{"type", "text"}, {"text", "[2 points]"}}}}}}}}}}.dump(),
          "application/json");
    if (key == "always 500") {
      res.status = 500;
      return res.set_content("overloaded", "text/plain");
    }
    if (key == "flaky" && hit == 1) {
      res.status = 503;
      return res.set_content("try again", "text/plain");
    }
    if (key == "flaky") return res.set_content(reply("[5 points]"), "application/json");
    if (key == "refused") {
      res.status = 400;
      return res.set_content(R"({"error": "content policy"})", "application/json");
    }
    if (key == "slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      return res.set_content(reply("[5 points]"), "application/json");
    }
    res.set_content(reply("[1 point]"), "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::map<std::string, int> hits_;
  Json last_;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

class OpenAiJudgeTest : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("MSTAR_TEST_JUDGE_KEY", "sk-test", 1); }
  Json params(Json extra = Json::object()) {
    Json p{{"url", server.url()}, {"model", "judge-model"}, {"api_key_env", "MSTAR_TEST_JUDGE_KEY"},
           {"retries", 2},        {"backoff_s", 0.01},      {"timeout_s", 1.0},
           {"concurrency", 3},    {"send_image", false}};
    p.update(extra);
    return p;
  }
  FakeOpenAi server;
};

TEST_F(OpenAiJudgeTest, ParsesPointsAndSendsTheRubricPrompt) {
  auto judge = make_judge("openai", params({{"score_parse", "points"}}));
  JudgeResult r = judge->judge(Json{{"response", "good"}, {"answer", "the human answer"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 4);
  EXPECT_EQ(r.raw, "[4 points]");
  const Json request = server.last_request();
  EXPECT_EQ(request["model"], "judge-model");
  EXPECT_EQ(request["temperature"], 0.0);
  EXPECT_EQ(request["top_p"], 0.9);
  const std::string prompt = request["messages"][0]["content"][0]["text"];
  EXPECT_NE(prompt.find("human answer: the human answer"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("[5 points]"), std::string::npos);
  EXPECT_EQ(request["messages"][0]["content"].size(), 1u) << "send_image: false";

  r = judge->judge(Json{{"response", "decimal"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 3.5);
  r = judge->judge(Json{{"response", "parts"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 2);
}

TEST_F(OpenAiJudgeTest, MalformedRepliesAreRecordedPerItem) {
  auto judge = make_judge("openai", params({{"score_parse", "points"}}));
  const std::vector<std::pair<std::string, std::string>> cases = {{"no score", "no '[N points]'"},
                                                                  {"not json", "not JSON"},
                                                                  {"no choices", "no choices[0]"},
                                                                  {"out of range", "outside 1-5"},
                                                                  {"refused", "HTTP 400"}};
  for (const auto& [answer, why] : cases) {
    const JudgeResult r = judge->judge(Json{{"response", answer}});
    EXPECT_FALSE(r.ok) << answer;
    EXPECT_NE(r.error.find(why), std::string::npos) << answer << ": " << r.error;
    EXPECT_EQ(server.hits(answer), 1) << answer << ": not retried";
  }
}

// eval_OSQ.py's calculate_average_score: int(re.search(r'\d+', reply)),
// with no range check; a reply without digits has no score (and keeps its
// text, which benchmark/osq counts as 0).
TEST_F(OpenAiJudgeTest, FirstIntegerAsTheReferenceReadsIt) {
  auto judge = make_judge("openai", params());
  const std::vector<std::pair<std::string, double>> scored = {
      {"good", 4}, {"decimal", 3}, {"out of range", 9}, {"parts", 2}};
  for (const auto& [answer, score] : scored) {
    const JudgeResult r = judge->judge(Json{{"response", answer}});
    ASSERT_TRUE(r.ok) << answer << ": " << r.error;
    EXPECT_EQ(r.score, score) << answer;
  }
  const JudgeResult none = judge->judge(Json{{"response", "no score"}});
  EXPECT_FALSE(none.ok);
  EXPECT_EQ(none.raw, "I cannot rate this.");
  EXPECT_NE(none.error.find("no number"), std::string::npos) << none.error;
  const JudgeResult failed = judge->judge(Json{{"response", "refused"}});
  EXPECT_FALSE(failed.ok);
  EXPECT_TRUE(failed.raw.empty()) << "a failed request has no reply text";
}

// eval_OSQ.py fills prompt_OSQ with prompt.format(human_answer, model_answer).
TEST_F(OpenAiJudgeTest, PositionalPromptOfTheReference) {
  auto judge = make_judge("openai", params({{"prompt", "\n## Standrad Answer:\nhuman answer: {}\n{{x}}\nmodel answer: {}\n"}}));
  const JudgeResult r = judge->judge(Json{{"response", "good"}, {"answer", "the human {} answer"}});
  ASSERT_TRUE(r.ok) << r.error;
  const std::string prompt = server.last_request()["messages"][0]["content"][0]["text"];
  EXPECT_EQ(prompt, "\n## Standrad Answer:\nhuman answer: the human {} answer\n{x}\nmodel answer: good\n");
  for (const char* bad : {"no slots at all", "{} {} {}", "only {reference}", "{} and a lone { and {}"}) {
    try {
      make_judge("openai", params({{"prompt", bad}}));
      ADD_FAILURE() << bad;
    } catch (const mstar::Error& e) {
      EXPECT_NE(std::string(e.what()).find("prompt"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("two {}"), std::string::npos) << e.what();
    }
  }
}

TEST_F(OpenAiJudgeTest, RetriesServerErrorsWithBackoffThenGivesUp) {
  auto judge = make_judge("openai", params());
  JudgeResult r = judge->judge(Json{{"response", "flaky"}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.score, 5);
  EXPECT_EQ(server.hits("flaky"), 2);

  r = judge->judge(Json{{"response", "always 500"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("HTTP 500"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("after 3 attempts"), std::string::npos) << r.error;
  EXPECT_EQ(server.hits("always 500"), 3);
}

TEST_F(OpenAiJudgeTest, TimeoutsAndUnreachableServersFailTheItemOnly) {
  auto judge = make_judge("openai", params({{"timeout_s", 0.3}, {"retries", 0}}));
  const auto start = std::chrono::steady_clock::now();
  JudgeResult r = judge->judge(Json{{"response", "slow"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("failed"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1400));

  auto nowhere = make_judge("openai", params({{"url", "http://127.0.0.1:1/v1"}, {"retries", 1}}));
  r = nowhere->judge(Json{{"response", "good"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("127.0.0.1:1/v1/chat/completions"), std::string::npos) << r.error;
}

TEST_F(OpenAiJudgeTest, ConcurrencyIsLimitedAndResultsKeepTheirOrder) {
  auto judge = make_judge("openai", params({{"concurrency", 3}}));
  std::vector<Json> items;
  for (int i = 0; i < 12; ++i) items.push_back(Json{{"response", i % 4 == 3 ? "no score" : "good"}});
  const auto results = judge->judge_all(items);
  ASSERT_EQ(results.size(), items.size());
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(results[i].ok, i % 4 != 3) << i;
  EXPECT_LE(server.max_in_flight(), 3);
  EXPECT_GE(server.max_in_flight(), 2);
}

TEST_F(OpenAiJudgeTest, KeyImageAndConfiguration) {
  ::setenv("MSTAR_TEST_JUDGE_KEY", "wrong", 1);
  auto wrong = make_judge("openai", params());
  JudgeResult r = wrong->judge(Json{{"response", "good"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("HTTP 401"), std::string::npos) << r.error;

  ::unsetenv("MSTAR_TEST_JUDGE_KEY");
  try {
    make_judge("openai", params());
    ADD_FAILURE() << "a missing key must fail before any benchmark work";
  } catch (const mstar::Error& e) {
    EXPECT_NE(std::string(e.what()).find("MSTAR_TEST_JUDGE_KEY"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_judge("openai", params({{"url", "ftp://x"}})), mstar::Error);

  ::setenv("MSTAR_TEST_JUDGE_KEY", "sk-test", 1);
  // An SDK-style base URL gets /chat/completions appended.
  auto judge = make_judge("openai", params({{"send_image", true}, {"url", server.base() + "/v1/"}}));
  const char* png = "data:image/png;base64,iVBORw0KGgo=";
  r = judge->judge(Json{{"response", "good"}, {"image", png}});
  ASSERT_TRUE(r.ok) << r.error;
  const Json content = server.last_request()["messages"][0]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[1]["image_url"]["url"], png);
  EXPECT_EQ(content[1]["image_url"]["detail"], "high");
  r = judge->judge(Json{{"response", "good"}, {"image", "/nonexistent/image.png"}});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("/nonexistent/image.png"), std::string::npos) << r.error;
}

}  // namespace
