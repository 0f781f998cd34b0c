// Benchmark metrics worked out by hand, and the task-file reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "metrics.h"
#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/error.h"
#include "tasks.h"

namespace {

namespace fs = std::filesystem;
using namespace mstar::bench;

Prediction tf(const std::string& truth, const std::string& said, const std::string& image,
              const std::string& level = "", bool heldout = false) {
  Prediction p;
  p.truth = truth;
  p.extracted = said;
  p.key = said;
  for (char& c : p.key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  p.correct = !said.empty() && p.key == (truth == "T" ? "t" : "f");
  p.group = image;
  p.category = level;
  p.heldout = heldout;
  return p;
}

// Three images, seven statements (4 T, 3 F):
//   img1: T->T ok, F->F ok                 (every statement right)
//   img2: T->F wrong, F->F ok
//   img3: T->"" empty, T->T ok, F->"x" invalid
std::vector<Prediction> hand_set() {
  return {tf("T", "T", "img1", "literal"),          tf("F", "F", "img1", "literal"),
          tf("T", "F", "img2", "symbolic"),         tf("F", "F", "img2", "symbolic"),
          tf("T", "", "img3", "implication"),       tf("T", "T", "img3", "literal", true),
          tf("F", "x", "img3", "implication", true)};
}

TEST(BenchMetrics, TrueFalseByHand) {
  const SetMetrics m = set_metrics(hand_set(), AnswerKind::TrueFalse);
  EXPECT_EQ(m.n, 7u);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 7);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, (2.0 / 4 + 2.0 / 3) / 2);  // TPR 2/4, TNR 2/3
  EXPECT_DOUBLE_EQ(m.majority_baseline, 4.0 / 7);                  // always "T"
  ASSERT_TRUE(m.answer_bias.has_value());
  EXPECT_DOUBLE_EQ(*m.answer_bias, 2.0 / 5);  // T, F, F, F, T said
  EXPECT_DOUBLE_EQ(m.group_accuracy, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.empty_answers, 1.0 / 7);
  EXPECT_DOUBLE_EQ(m.invalid_answers, 1.0 / 7);
}

TEST(BenchMetrics, OneLetterModelsNeverLookLikeProgress) {
  // 6 T and 4 F statements; a model that always says T.
  std::vector<Prediction> always_t;
  for (int i = 0; i < 10; ++i) always_t.push_back(tf(i < 6 ? "T" : "F", "T", "img" + std::to_string(i / 2)));
  const SetMetrics m = set_metrics(always_t, AnswerKind::TrueFalse);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(m.accuracy, m.majority_baseline);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(*m.answer_bias, 1.0);
  // Nobody answering: no bias to report, everything empty.
  std::vector<Prediction> silent = {tf("T", "", "a"), tf("F", "", "a")};
  const SetMetrics s = set_metrics(silent, AnswerKind::TrueFalse);
  EXPECT_FALSE(s.answer_bias.has_value());
  EXPECT_DOUBLE_EQ(s.balanced_accuracy, 0.0);
  EXPECT_DOUBLE_EQ(s.empty_answers, 1.0);
}

TEST(BenchMetrics, GroupAccuracyNeedsEveryStatementOfTheImage) {
  std::vector<Prediction> set = {tf("T", "T", "a"), tf("F", "F", "a"), tf("T", "T", "a"),  // a: all right
                                 tf("T", "T", "b"), tf("F", "T", "b"),                     // b: one wrong
                                 tf("F", "F", "c")};                                       // c: single, right
  EXPECT_DOUBLE_EQ(set_metrics(set, AnswerKind::TrueFalse).group_accuracy, 2.0 / 3);
  // Rows without a group count one each.
  set.push_back(tf("T", "F", ""));
  EXPECT_DOUBLE_EQ(set_metrics(set, AnswerKind::TrueFalse).group_accuracy, 2.0 / 4);
}

TEST(BenchMetrics, SummariesPerLevelAndHeldout) {
  SummaryOptions o;
  o.kind = AnswerKind::TrueFalse;
  const auto s = summarize({hand_set()}, o);
  EXPECT_DOUBLE_EQ(s.at("accuracy"), 4.0 / 7);
  EXPECT_DOUBLE_EQ(s.at("rows"), 7);
  // literal: img1 T ok, img1 F ok, img3 T ok (held out)
  EXPECT_DOUBLE_EQ(s.at("literal.accuracy"), 1.0);
  EXPECT_DOUBLE_EQ(s.at("literal.balanced_accuracy"), 1.0);
  EXPECT_DOUBLE_EQ(s.at("literal.group_accuracy"), 1.0);
  EXPECT_DOUBLE_EQ(s.at("literal.rows"), 3);
  // symbolic: img2 T->F, F->F
  EXPECT_DOUBLE_EQ(s.at("symbolic.accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("symbolic.balanced_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("symbolic.answer_bias"), 0.0);
  EXPECT_DOUBLE_EQ(s.at("symbolic.group_accuracy"), 0.0);
  // implication: T->"" and F->"x": nothing right, no T/F answer at all
  EXPECT_DOUBLE_EQ(s.at("implication.accuracy"), 0.0);
  EXPECT_DOUBLE_EQ(s.at("implication.empty_answers"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("implication.invalid_answers"), 0.5);
  EXPECT_EQ(s.count("implication.answer_bias"), 0u);
  // held out: img3 T->T, F->"x"; seen: the other five
  EXPECT_DOUBLE_EQ(s.at("heldout.accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("heldout.rows"), 2);
  EXPECT_DOUBLE_EQ(s.at("seen.accuracy"), 3.0 / 5);
  EXPECT_EQ(s.count("majority_accuracy"), 0u) << "n = 1 has no vote";
}

TEST(BenchMetrics, SamplesAreAveragedAndVoted) {
  // Two rows, three samples each.
  //   row 0 (T): T, F, F   -> vote F (wrong); 1/3 right
  //   row 1 (F): F, "", T  -> tie F/T, the first (F) wins (right); 1/3 right
  const std::vector<std::vector<Prediction>> samples = {
      {tf("T", "T", "a"), tf("F", "F", "b")},
      {tf("T", "F", "a"), tf("F", "", "b")},
      {tf("T", "F", "a"), tf("F", "T", "b")},
  };
  const auto voted = majority_vote(samples);
  EXPECT_EQ(voted[0].extracted, "F");
  EXPECT_EQ(voted[1].extracted, "F");
  SummaryOptions o;
  o.kind = AnswerKind::TrueFalse;
  const auto s = summarize(samples, o);
  EXPECT_DOUBLE_EQ(s.at("accuracy"), (1.0 + 0.0 + 0.0) / 3);  // per sample set: 2/2, 0/2, 0/2
  EXPECT_DOUBLE_EQ(s.at("majority_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("majority_balanced_accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("empty_answers"), (0 + 0.5 + 0) / 3);
  // A row nobody answered keeps the empty answer.
  const auto none = majority_vote({{tf("T", "", "a")}, {tf("T", "", "a")}});
  EXPECT_TRUE(none[0].extracted.empty());
  EXPECT_FALSE(none[0].correct);
}

TEST(BenchMetrics, ChoiceBalancedAccuracyIsMeanRecallOverTruths) {
  auto choice = [](const std::string& truth, const std::string& said) {
    Prediction p;
    p.truth = truth;
    p.extracted = said;
    p.key = said;
    p.correct = said == truth;
    return p;
  };
  // Truths A A A B C; always "A": accuracy 3/5, balanced (1 + 0 + 0) / 3.
  const std::vector<Prediction> set = {choice("A", "A"), choice("A", "A"), choice("A", "A"), choice("B", "A"),
                                       choice("C", "A")};
  const SetMetrics m = set_metrics(set, AnswerKind::Choice);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.6);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.majority_baseline, 0.6);
  EXPECT_FALSE(m.answer_bias.has_value());
  SummaryOptions o;
  o.kind = AnswerKind::Free;
  const auto s = summarize({set}, o);
  EXPECT_EQ(s.count("balanced_accuracy"), 0u);
  EXPECT_EQ(s.count("answer_bias"), 0u);
}

TEST(BenchMetrics, JudgedScores) {
  std::vector<JudgedAnswer> answers(5);
  answers[0].score = 5;
  answers[1].score = 3;
  answers[2].score = std::nullopt;  // judge failure
  answers[3].score = 4;
  answers[3].heldout = true;
  answers[4].score = 3.5;  // rounds to 4
  answers[0].dimensions = {{"deep", 1.0}};
  answers[1].dimensions = {{"deep", 0.5}};
  const auto s = summarize_judged(answers);
  EXPECT_DOUBLE_EQ(s.at("mean_score"), (5 + 3 + 4 + 3.5) / 4);
  EXPECT_DOUBLE_EQ(s.at("judged"), 4);
  EXPECT_DOUBLE_EQ(s.at("judge_failures"), 1);
  EXPECT_DOUBLE_EQ(s.at("score_1"), 0.0);
  EXPECT_DOUBLE_EQ(s.at("score_3"), 0.25);
  EXPECT_DOUBLE_EQ(s.at("score_4"), 0.5);
  EXPECT_DOUBLE_EQ(s.at("score_5"), 0.25);
  EXPECT_DOUBLE_EQ(s.at("dimension.deep"), 0.75);
  EXPECT_DOUBLE_EQ(s.at("heldout.mean_score"), 4);
  EXPECT_DOUBLE_EQ(s.at("seen.mean_score"), (5 + 3 + 3.5) / 3);
  EXPECT_DOUBLE_EQ(s.at("seen.judge_failures"), 1);
  EXPECT_DOUBLE_EQ(s.at("score_0"), 0.0);
}

// eval_OSQ.py averages a reply without a score as 0: it is judged, in score_0.
TEST(BenchMetrics, ZeroScoresAreJudgedAndCounted) {
  std::vector<JudgedAnswer> answers(3);
  answers[0].score = 4;
  answers[1].score = 0;
  answers[2].score = 10;  // the reference's first integer has no range check
  const auto s = summarize_judged(answers);
  EXPECT_DOUBLE_EQ(s.at("mean_score"), 14.0 / 3);
  EXPECT_DOUBLE_EQ(s.at("judged"), 3);
  EXPECT_DOUBLE_EQ(s.at("score_0"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.at("score_1"), 0.0);
  EXPECT_DOUBLE_EQ(s.at("score_5"), 1.0 / 3);
}

// ---- task files ------------------------------------------------------------------------

class TaskFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir = fs::temp_directory_path() /
          ("mstar_bench_tasks_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir / "bench" / "img");
    mstar::data::Image img(8, 8);
    for (const char* name : {"a", "b", "c"})
      mstar::write_file_atomic(dir / "bench" / "img" / (std::string(name) + ".png"), mstar::data::encode_png(img));
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir / "bench" / name) << text; }
  fs::path dir;
};

TEST_F(TaskFiles, TfqRowsLimitRoundsUpToWholeImages) {
  write(
      "tfq.jsonl",
      R"({"answer":"T","image_id":"a","images":["img/a.png"],"level":"literal","problem":"<image> s1","question_id":"q1"}
{"answer":"F","image_id":"a","images":["img/a.png"],"level":"symbolic","problem":"<image> s2","question_id":"q2"}
{"answer":"F","image_id":"b","images":["img/b.png"],"level":"literal","problem":"<image> s3","question_id":"q3"}
{"answer":"T","images":["img/c.png"],"problem":"<image> s4"}
)");
  write("scenes.jsonl", R"({"image_id":"b","heldout":true}
)");
  const fs::path file = find_task_file(dir, "tfq.jsonl");  // the dataset root: bench/ is found
  EXPECT_EQ(file, dir / "bench" / "tfq.jsonl");
  ReadTaskOptions o;
  o.format = TaskFormat::TrueFalse;
  o.category_key = "level";
  const auto all = read_task_rows(file, o);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].category, "symbolic");
  EXPECT_TRUE(all[2].heldout) << "from scenes.jsonl";
  EXPECT_FALSE(all[0].heldout);
  EXPECT_EQ(all[3].question_id, "tfq-4");  // FILESTEM-LINE
  EXPECT_EQ(all[3].image_id, "c");
  EXPECT_TRUE(fs::path(all[0].image().url()).is_absolute());
  EXPECT_EQ(fs::path(all[0].image().url()).filename(), "a.png");

  o.limit = 1;
  EXPECT_EQ(read_task_rows(file, o).size(), 1u);
  o.whole_groups = true;
  EXPECT_EQ(read_task_rows(file, o).size(), 2u) << "both statements of image a";

  const mstar::Json e = reference_entry(all[0], "<answer>T</answer>");
  EXPECT_EQ(e["Question_ID"], "q1");
  EXPECT_EQ(e["Question"], "<image> s1");
  EXPECT_EQ(e["Model_Output"], "<answer>T</answer>");
  EXPECT_EQ(e["Ground_Truth"], "T");
  EXPECT_EQ(e["Image_URL"], all[0].image().url());
  EXPECT_EQ(e.size(), 5u);
}

TEST_F(TaskFiles, BadRowsNameTheFileAndLine) {
  write("vqa.jsonl", R"({"answer":"2","images":["img/a.png"],"problem":"<image> how many?","type":"count"}
{"answer":3,"images":["img/a.png"],"problem":"<image> how many?"}
)");
  const fs::path file = find_task_file(dir / "bench", "vqa.jsonl");
  try {
    read_task_rows(file, {});
    ADD_FAILURE() << "expected an error";
  } catch (const mstar::Error& e) {
    EXPECT_NE(std::string(e.what()).find("vqa.jsonl:2: 'answer' must be a string"), std::string::npos) << e.what();
  }
  write("vqa.jsonl", R"({"answer":"2","images":["img/missing.png"],"problem":"<image> how many?"}
)");
  EXPECT_THROW(read_task_rows(file, {}), mstar::Error);
  EXPECT_THROW(find_task_file(dir, "nope.jsonl"), mstar::Error);
}

}  // namespace
