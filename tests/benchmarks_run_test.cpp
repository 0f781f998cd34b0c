// The benchmark nodes end to end: the real mstar binary runs a small world,
// a random (untrained) tiny_vlm and every benchmark in a private MSTAR_HOME.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "host_helpers.h"
#include "mstar/artifact.h"
#include "mstar/data/answers.h"
#include "mstar/data/image.h"
#include "mstar/data/import.h"
#include "mstar/data/rows.h"
#include "mstar/error.h"
#include "mstar/json.h"
#include "tasks.h"

namespace {

using namespace mstar::testing;
using mstar::Json;

// 40 bench images (~280 statements); a small random qwen backbone.
constexpr const char* kPipeline = R"(name: bench
nodes:
  world:
    plugin: dataset/implication_world
    params: {train_images: 12, bench_images: 40, lite_train_images: 2, lite_bench_images: 2, seed: 3}
  base: {plugin: backbone/tiny_vlm, inputs: {data: world.train}, params: {size: S, layers: 2, vision_layers: 1}}
  tfq_gen:
    plugin: benchmark/tfq_bench
    inputs: {model: base, data: world.bench}
    params: {limit: 40, max_new_tokens: 12, n: 2}
  tfq_lik: {plugin: benchmark/tfq_bench, inputs: {model: base, data: world.bench}, params: {answer_mode: likelihood}}
  mcq_lik: {plugin: benchmark/mcq, inputs: {model: base, data: world.bench}, params: {answer_mode: likelihood}}
  mcq_gen: {plugin: benchmark/mcq, inputs: {model: base, data: world.bench}, params: {limit: 10, max_new_tokens: 12}}
  osq: {plugin: benchmark/osq, inputs: {model: base, data: world.bench}, params: {limit: 10, max_new_tokens: 12}}
  vqa: {plugin: benchmark/vqa, inputs: {model: base, data: world.bench}, params: {limit: 20, greedy: true}}
  reasoning: {plugin: benchmark/reasoning, inputs: {model: base, data: world.bench}, params: {limit: 20}}
)";

std::vector<Json> read_jsonl(const fs::path& file) {
  std::vector<Json> out;
  mstar::data::for_each_jsonl(file, [&](size_t, const Json& row) { out.push_back(row); });
  return out;
}

// One run of kPipeline shared by the tests of this file (about 10 s on 2 cores).
class BenchmarkRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sandbox = new Sandbox();
    const auto file = sandbox->write("bench.yaml", kPipeline);
    first = new CommandResult(sandbox->run({"run", file.string()}));
    if (first->code() != 0) return;
    second = new CommandResult(sandbox->run({"run", file.string()}));
    auto reg = sandbox->registry();
    nodes = new std::map<std::string, mstar::registry::NodeRunRecord>(nodes_of(*reg, reg->list_runs().at(0).id));
    summaries = new std::map<std::string, std::map<std::string, double>>();
    for (const auto& [name, node] : *nodes) (*summaries)[name] = reg->summaries(node.cache_key);
  }
  static void TearDownTestSuite() {
    delete summaries;
    delete nodes;
    delete second;
    delete first;
    delete sandbox;
  }
  void SetUp() override { ASSERT_EQ(first->code(), 0) << first->err << first->out; }

  static const std::map<std::string, double>& of(const std::string& node) { return summaries->at(node); }
  static fs::path artifact(const std::string& node) { return nodes->at(node).artifact_path; }

  static inline Sandbox* sandbox = nullptr;
  static inline CommandResult* first = nullptr;
  static inline CommandResult* second = nullptr;
  static inline std::map<std::string, mstar::registry::NodeRunRecord>* nodes = nullptr;
  static inline std::map<std::string, std::map<std::string, double>>* summaries = nullptr;
};

TEST_F(BenchmarkRun, RandomBackboneScoresChanceOnTfqAndMcq) {
  // Likelihood mode always answers: a random model is at chance, and the
  // metrics say so whatever letter it happens to prefer.
  const auto& tfq = of("tfq_lik");
  EXPECT_NEAR(tfq.at("balanced_accuracy"), 0.5, 0.08);
  EXPECT_NEAR(tfq.at("accuracy"), 0.5, 0.1);
  EXPECT_NEAR(tfq.at("majority_baseline"), 0.5, 0.1);
  EXPECT_DOUBLE_EQ(tfq.at("empty_answers"), 0.0);
  EXPECT_TRUE(tfq.count("answer_bias"));
  for (const char* level : {"literal", "symbolic", "implication"})
    EXPECT_NEAR(tfq.at(std::string(level) + ".balanced_accuracy"), 0.5, 0.15) << level;
  const auto& mcq = of("mcq_lik");
  EXPECT_NEAR(mcq.at("balanced_accuracy"), 1.0 / 6, 0.1);
  EXPECT_NEAR(mcq.at("chance"), 1.0 / 6, 1e-9);
  EXPECT_LE(mcq.at("accuracy"), mcq.at("majority_baseline") + 0.15);

  // Sampling: an untrained model rarely produces an answer at all; it must
  // not look better than always answering the majority.
  const auto& gen = of("tfq_gen");
  EXPECT_LE(gen.at("accuracy"), gen.at("majority_baseline") + 0.1);
  EXPECT_LE(gen.at("balanced_accuracy"), 0.6);
  EXPECT_LE(of("mcq_gen").at("accuracy"), 0.5);
}

TEST_F(BenchmarkRun, TfqSummariesPredictionsAndReferenceJson) {
  const auto& s = of("tfq_gen");
  for (const char* key : {"accuracy", "balanced_accuracy", "majority_baseline", "group_accuracy", "empty_answers",
                          "invalid_answers", "rows", "majority_accuracy", "majority_balanced_accuracy"})
    EXPECT_TRUE(s.count(key)) << key;
  EXPECT_GE(s.at("rows"), 40) << "limit rounds up to whole images";
  for (const char* level : {"literal", "symbolic", "implication"})
    EXPECT_TRUE(s.count(std::string(level) + ".accuracy")) << level;

  const auto lines = read_jsonl(artifact("tfq_gen") / "predictions.jsonl");
  const size_t rows = static_cast<size_t>(s.at("rows"));
  ASSERT_EQ(lines.size(), 2 * rows) << "n = 2 answers per row";
  for (const char* key : {"question_id", "sample", "image_id", "image", "heldout", "category", "problem", "answer",
                          "response", "extracted", "correct"})
    EXPECT_TRUE(lines[0].contains(key)) << key;

  // The reference's evaluation JSON reproduces our accuracy: per sample file,
  // extract as eval_TFQ.py and compare ignoring case.
  double mean = 0;
  for (const char* name : {"eval_result.json", "eval_result_s1.json"}) {
    const Json entries = Json::parse(slurp(artifact("tfq_gen") / name));
    ASSERT_EQ(entries.size(), rows) << name;
    size_t correct = 0;
    for (const Json& e : entries) {
      EXPECT_EQ(e.size(), 5u);
      for (const char* key : {"Question_ID", "Question", "Model_Output", "Ground_Truth", "Image_URL"})
        EXPECT_TRUE(e.contains(key)) << key;
      EXPECT_TRUE(fs::exists(e["Image_URL"].get<std::string>()));
      const std::string got = mstar::data::tfq_reference_answer(e["Model_Output"].get<std::string>());
      correct += mstar::data::reference_answers_equal(got, e["Ground_Truth"].get<std::string>());
    }
    mean += static_cast<double>(correct) / static_cast<double>(rows) / 2;
  }
  EXPECT_NEAR(mean, s.at("accuracy"), 1e-12);

  // Held-out scopes appear when the evaluated rows include held-out images.
  const auto all = read_jsonl(artifact("tfq_lik") / "predictions.jsonl");
  const bool any_heldout = std::any_of(all.begin(), all.end(), [](const Json& l) { return l["heldout"].get<bool>(); });
  EXPECT_EQ(of("tfq_lik").count("heldout.accuracy"), any_heldout ? 1u : 0u);
  EXPECT_EQ(of("tfq_lik").count("seen.balanced_accuracy"), any_heldout ? 1u : 0u);
  EXPECT_TRUE(all[0].contains("choice_logprobs"));
  EXPECT_EQ(all[0]["choice_logprobs"].size(), 2u);
}

TEST_F(BenchmarkRun, OsqVqaAndReasoning) {
  const auto& osq = of("osq");
  EXPECT_DOUBLE_EQ(osq.at("judged") + osq.at("judge_failures"), osq.at("rows"));
  EXPECT_DOUBLE_EQ(osq.at("judge_failures"), 0.0) << "judge/rubric scores every world row";
  EXPECT_GE(osq.at("mean_score"), 1.0);
  EXPECT_LE(osq.at("mean_score"), 5.0);
  double histogram = 0;
  for (int k = 0; k <= 5; ++k) histogram += osq.at("score_" + std::to_string(k));
  EXPECT_NEAR(histogram, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(osq.at("score_0"), 0.0);
  EXPECT_DOUBLE_EQ(osq.at("unscored"), 0.0);
  EXPECT_TRUE(osq.count("dimension.deep"));
  const auto lines = read_jsonl(artifact("osq") / "predictions.jsonl");
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_TRUE(lines[0].contains("score"));
  for (const auto& line : lines) EXPECT_EQ(line["judged"], line["response"]) << "eval_OSQ.py judges the whole output";
  EXPECT_TRUE(fs::exists(artifact("osq") / "eval_result.json"));

  for (const char* node : {"vqa", "reasoning"}) {
    const auto& s = of(node);
    EXPECT_DOUBLE_EQ(s.at("rows"), 20) << node;
    EXPECT_TRUE(s.count("accuracy")) << node;
    EXPECT_EQ(s.count("balanced_accuracy"), 0u) << node;
    EXPECT_FALSE(fs::exists(artifact(node) / "eval_result.json")) << node;
  }
  EXPECT_TRUE(of("vqa").count("count.accuracy"));
  EXPECT_TRUE(of("vqa").count("colour.accuracy"));
  bool typed = false;
  for (const char* type : {"ref_concept", "ref_tone", "concept_colour", "concept_position"})
    typed = typed || of("reasoning").count(std::string(type) + ".accuracy");
  EXPECT_TRUE(typed);
}

TEST_F(BenchmarkRun, ReEvaluatingIsCached) {
  ASSERT_EQ(second->code(), 0) << second->err;
  EXPECT_NE(second->out.find("0 ran, 9 cached"), std::string::npos) << second->out;
}

// A judge endpoint that never gives a score, and remembers the prompts.
class ScorelessJudge {
 public:
  ScorelessJudge() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        prompts_.push_back(Json::parse(req.body)["messages"][0]["content"][0]["text"].get<std::string>());
      }
      const Json reply{{"choices", {{{"message", {{"role", "assistant"}, {"content", "I cannot rate this."}}}}}}};
      res.set_content(reply.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~ScorelessJudge() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::vector<std::string> prompts() {
    std::lock_guard lock(mutex_);
    return prompts_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> prompts_;
};

// eval_OSQ.py: the judge reads the whole Model_Output, is prompted with
// prompt_OSQ.format(human_answer, model_answer), and a reply without a
// number counts as 0 in the average. The options keep mstar's old rules.
TEST(BenchmarkOsq, FollowsTheReferenceEvaluation) {
  ScorelessJudge judge;
  Sandbox sb;
  const fs::path prompt_file = sb.write("osq_prompt.txt", "\nhuman answer: {}\n\nmodel answer: {}\n");
  const std::string judge_spec = "{plugin: judge/openai, url: \"" + judge.url() + "\", api_key_env: \"\", retries: 0}";
  auto file = sb.write("osq.yaml", R"(name: osq
nodes:
  world:
    plugin: dataset/implication_world
    params: {train_images: 4, bench_images: 6, lite_train_images: 1, lite_bench_images: 1, seed: 5}
  base: {plugin: backbone/tiny_vlm, params: {size: S, layers: 1, vision_layers: 1}}
  reference:
    plugin: benchmark/osq
    inputs: {model: base, data: world.bench}
    params: {limit: 3, max_new_tokens: 6, judge_prompt_file: )" + prompt_file.string() +
                                          ", judge: " + judge_spec + R"(}
  old_rules:
    plugin: benchmark/osq
    inputs: {model: base, data: world.bench}
    params: {limit: 3, max_new_tokens: 6, judged_text: answer, unscored: skip, judge: )" + judge_spec + R"(}
)");
  auto r = sb.run({"run", file.string(), "-j", "1"});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  const auto ref = reg->summaries(nodes.at("reference").cache_key);
  EXPECT_DOUBLE_EQ(ref.at("judged"), 3);
  EXPECT_DOUBLE_EQ(ref.at("unscored"), 3);
  EXPECT_DOUBLE_EQ(ref.at("judge_failures"), 0);
  EXPECT_DOUBLE_EQ(ref.at("mean_score"), 0);
  EXPECT_DOUBLE_EQ(ref.at("score_0"), 1);
  const auto old = reg->summaries(nodes.at("old_rules").cache_key);
  EXPECT_DOUBLE_EQ(old.at("judged"), 0);
  EXPECT_DOUBLE_EQ(old.at("unscored"), 0);
  EXPECT_DOUBLE_EQ(old.at("judge_failures"), 3);
  EXPECT_EQ(old.count("mean_score"), 0u);
  for (const auto& line : read_jsonl(fs::path(nodes.at("old_rules").artifact_path) / "predictions.jsonl"))
    EXPECT_EQ(line["judged"], mstar::data::final_answer_text(line["response"].get<std::string>()));
  // The prompt file, filled positionally: the human answer, then the output.
  const auto lines = read_jsonl(fs::path(nodes.at("reference").artifact_path) / "predictions.jsonl");
  size_t from_file = 0;
  for (const std::string& prompt : judge.prompts())
    for (const auto& line : lines)
      from_file += prompt == "\nhuman answer: " + line["answer"].get<std::string>() + "\n\nmodel answer: " +
                                 line["response"].get<std::string>() + "\n";
  EXPECT_EQ(from_file, 3u);
}

TEST(BenchmarkFailures, JudgeFailuresAndBadInputs) {
  Sandbox sb;
  auto file = sb.write("fail.yaml", R"(name: fail
nodes:
  world:
    plugin: dataset/implication_world
    params: {train_images: 4, bench_images: 6, lite_train_images: 1, lite_bench_images: 1, seed: 5}
  base: {plugin: backbone/tiny_vlm, params: {size: S, layers: 1, vision_layers: 1}}
  osq:
    plugin: benchmark/osq
    inputs: {model: base, data: world.bench}
    params:
      limit: 3
      max_new_tokens: 4
      judge: {plugin: judge/openai, url: "http://127.0.0.1:1/v1", api_key_env: "", retries: 0, timeout_s: 2}
  missing: {plugin: benchmark/vqa, inputs: {model: base, data: world.bench}, params: {file: nope.jsonl}}
  linked: {plugin: dataset/tfq_jsonl, inputs: {data: world.bench}, params: {link: symlink, split: bench}}
  on_links: {plugin: benchmark/tfq_bench, inputs: {model: base, data: linked.bench}, params: {limit: 2, max_new_tokens: 4}}
)");
  auto r = sb.run({"run", file.string()});
  EXPECT_EQ(r.code(), 1) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  // An unreachable judge fails every judgement, never the benchmark.
  EXPECT_EQ(nodes.at("osq").status, "done") << nodes.at("osq").reason;
  const auto s = reg->summaries(nodes.at("osq").cache_key);
  EXPECT_DOUBLE_EQ(s.at("judge_failures"), 3);
  EXPECT_DOUBLE_EQ(s.at("judged"), 0);
  EXPECT_EQ(s.count("mean_score"), 0u);
  const auto lines = read_jsonl(fs::path(nodes.at("osq").artifact_path) / "predictions.jsonl");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0]["judge_error"].get<std::string>().find("127.0.0.1:1"), std::string::npos) << lines[0].dump();
  // A task file that is not there names where it looked.
  EXPECT_EQ(nodes.at("missing").status, "failed");
  EXPECT_NE(nodes.at("missing").reason.find("nope.jsonl"), std::string::npos) << nodes.at("missing").reason;
  // Images an import linked to (outside its artifact) are allowed because
  // the import recorded where they point.
  EXPECT_EQ(nodes.at("on_links").status, "done") << nodes.at("on_links").reason;
}

// A split folder bench/ with img/a.png, a folder beside it with o.png, and
// bench/img/link.png -> o.png; removed at the end.
class ConfinedTaskFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(bench / "img");
    fs::create_directories(outside);
    const std::string png = mstar::data::encode_png(mstar::data::Image(4, 4));
    mstar::write_file_atomic(bench / "img/a.png", png);
    mstar::write_file_atomic(outside / "o.png", png);
    fs::create_symlink(outside / "o.png", bench / "img/link.png");
  }
  void TearDown() override { fs::remove_all(sb.dir()); }
  fs::path write_rows(const std::string& name, const std::string& image) {
    const Json row{{"images", {image}}, {"problem", "<image> how many?"}, {"answer", "T"}};
    return sb.write("bench/" + name, row.dump() + "\n");
  }
  Sandbox sb;
  fs::path bench = sb.dir() / "bench", outside = sb.dir() / "outside";
};

TEST_F(ConfinedTaskFiles, EveryFormatRefusesPathsOutsideTheSplit) {
  using namespace mstar::bench;
  const std::string o = fs::canonical(outside / "o.png").string();
  for (TaskFormat format : {TaskFormat::Generic, TaskFormat::TrueFalse}) {
    ReadTaskOptions options;
    options.format = format;
    for (const std::string& image : {std::string("../outside/o.png"), o, std::string("img/link.png")}) {
      const fs::path file = write_rows("tfq.jsonl", image);
      try {
        read_task_rows(file, options);
        ADD_FAILURE() << image << " was read";
      } catch (const ::mstar::Error& e) {
        EXPECT_TRUE(e.is_bad_input());
        EXPECT_NE(std::string(e.what()).find(file.string() + ":1: "), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("path '" + image + "' resolves to " + o), std::string::npos) << e.what();
      }
    }
    // What an import recorded (its image_roots) is allowed, absolute paths too.
    mstar::write_file_atomic(sb.dir() / "import_report.json",
                             Json{{"image_roots", {fs::canonical(outside).string()}}}.dump());
    const auto rows = read_task_rows(write_rows("tfq.jsonl", o), options);
    EXPECT_EQ(rows.at(0).image().url(), o);
    EXPECT_EQ(rows.at(0).image_id, "o");
    EXPECT_EQ(read_task_rows(write_rows("tfq.jsonl", "img/link.png"), options).at(0).image_id, "link");
    fs::remove(sb.dir() / "import_report.json");
    EXPECT_EQ(read_task_rows(write_rows("tfq.jsonl", "img/a.png"), options).size(), 1u);
  }
}

TEST_F(ConfinedTaskFiles, EmptyTaskFilesAreRefusedNamingTheFile) {
  using namespace mstar::bench;
  const fs::path file = sb.write("bench/vqa.jsonl", "\n");
  for (TaskFormat format : {TaskFormat::Generic, TaskFormat::TrueFalse}) {
    ReadTaskOptions options;
    options.format = format;
    try {
      read_task_rows(file, options);
      ADD_FAILURE() << "read";
    } catch (const ::mstar::Error& e) {
      EXPECT_TRUE(e.is_bad_input());
      EXPECT_EQ(std::string(e.what()), file.string() + ": no rows (the file is empty)");
    }
  }
}

}  // namespace
