// Answer extraction and the reward plugins, case by case against the
// reference's rules, plus the component mechanism end to end.
#include <gtest/gtest.h>

#include "host_helpers.h"
#include "mstar/data/answers.h"
#include "mstar/data/grade.h"

using namespace mstar::data;
using namespace mstar::testing;

TEST(TfqFormat, WholeResponseMustMatchThinkThenAnswer) {
  EXPECT_TRUE(tfq_format_ok("<think>a\nb</think> <answer>T</answer>"));
  EXPECT_TRUE(tfq_format_ok("<think></think><answer>F</answer>"));
  EXPECT_FALSE(tfq_format_ok("<answer>T</answer>"));
  EXPECT_FALSE(tfq_format_ok("<think>x</think><answer>T</answer> trailing"));
  EXPECT_FALSE(tfq_format_ok("lead <think>x</think><answer>T</answer>"));
  // Loose format accepts repeated blocks; strict does not, nor an empty think.
  const char* twice = "<think>a</think><answer>T</answer><think>b</think><answer>F</answer>";
  EXPECT_TRUE(tfq_format_ok(twice));
  EXPECT_FALSE(tfq_strict_format_ok(twice));
  EXPECT_FALSE(tfq_strict_format_ok("<think>  </think><answer>T</answer>"));
  EXPECT_TRUE(tfq_strict_format_ok("<think>why</think><answer>T</answer>"));
}

TEST(TfqReward, FirstAnswerWithoutNewlinesCaseInsensitive) {
  EXPECT_EQ(tfq_reward_answer("<think>x</think><answer> t </answer><answer>F</answer>"), "t");
  EXPECT_EQ(tfq_reward_answer("<answer>T\n</answer>"), "");
  // TFQ-GRPO_reward.py accuracy_reward: re.search without DOTALL, so a tag
  // spanning a newline is no tag and the whole response is graded.
  EXPECT_EQ(tfq_reward_tag("<answer>T\n</answer>"), std::nullopt);
  EXPECT_EQ(tfq_reward_tag("<answer></answer>"), std::optional<std::string>(""));
  EXPECT_EQ(tfq_reward_tag("T"), std::nullopt);
  EXPECT_TRUE(answers_equal("t", "T"));
  EXPECT_FALSE(answers_equal("True", "T"));
  EXPECT_FALSE(answers_equal("", ""));
}

// Each verdict is mathruler 0.1.0's grade_answer(given, truth) (grader.py),
// which TFQ-GRPO_reward.py calls; obtained by running it on these pairs.
TEST(GradeAnswer, VerdictsOfTheReferenceGrader) {
  struct Case {
    const char* given;
    const char* truth;
    bool correct;
    const char* why;  // the step of grader.py / math_normalize.py that decides
  };
  const Case cases[] = {
      {"T", "T", true, "mathd: equal"},
      {"t", "T", true, "_normalize: lower()"},
      {"F", "T", false, "sympy: t - f != 0"},
      {"f", "T", false, "sympy: t - f != 0"},
      {"{T}", "T", true, "_normalize: one enclosing {} dropped"},
      {"{{T}}", "T", true, "_normalize: braces removed"},
      {"{t}", "T", true, "_normalize"},
      {"$T$", "T", true, "_normalize: $ removed"},
      {"\\$T", "T", true, "mathd: \\$ removed"},
      {"\\text{T}", "T", true, "normalize_answer: enclosing \\text{} dropped"},
      {"$\\text{T}$", "T", true, "_normalize: $ removed, then LaTeX to text"},
      {"\\textbf{T}", "T", true, "_normalize: _parse_latex (pylatexenc)"},
      {"\\boxed{T}", "T", true, "_normalize: _parse_latex"},
      {"\\mathrm{T}", "T", true, "_normalize: _parse_latex"},
      {"\\emph{T}", "T", true, "_normalize: _parse_latex"},
      {"\\(T\\)", "T", true, "_normalize: _parse_latex drops math delimiters"},
      {"\\{T\\}", "T", true, "_normalize: _parse_latex, then braces removed"},
      {"\\, T", "T", true, "_normalize: _parse_latex, spaces removed"},
      {"\\left(T\\right)", "T", true, "split_tuple: one element"},
      {"\\mathbf{T}", "T", false, "_parse_latex: a Unicode bold letter"},
      {"\\texttt{T}", "T", false, "_parse_latex: empty text"},
      {"\\textbf{T}.", "T", false, "sympy cannot parse t."},
      {"(T)", "T", true, "split_tuple: one element, sympy t - t = 0"},
      {"[T]", "T", true, "split_tuple"},
      {"( T )", "T", true, "split_tuple after spaces removed"},
      {"(T", "T", false, "not a tuple; sympy cannot parse"},
      {"T)", "T", false, "not a tuple; sympy cannot parse"},
      {"{T", "T", true, "_normalize: braces removed"},
      {"x = T", "T", true, "mathd: a left side of at most two characters"},
      {"A = T", "T", true, "mathd"},
      {"answer = T", "T", false, "mathd: left side too long"},
      {"T%", "T", true, "mathd: % removed"},
      {"T\\%", "T", true, "mathd: \\% removed"},
      {"T^\\circ", "T", true, "mathd: ^\\circ removed"},
      {"T^{\\circ}", "T", true, "mathd: ^{\\circ} removed"},
      {"T degrees", "T", true, "_normalize: unit words removed"},
      {"Tday", "T", true, "_normalize: unit words removed anywhere"},
      {"Tsecond", "T", true, "_normalize: unit words removed anywhere"},
      {"Ts", "T", false, "not a unit"},
      {"\\text{ T}", "T", true, "normalize_answer: enclosing \\text{} dropped and stripped"},
      {"T\\text{ x}", "T", true, "mathd: _remove_right_units"},
      {"\\text{(T)}", "T", true, "split_tuple after \\text{} dropped"},
      {"T.", "T", false, "sympy cannot parse t."},
      {"T,", "T", false, "two elements against one"},
      {"T F", "T", false, "sympy: t - t*f != 0"},
      {"T or F", "T", false, "_normalize: ' or ' becomes a comma"},
      {"True", "T", false, "sympy not tried: more than two letters"},
      {"true", "T", false, "sympy not tried"},
      {"**T**", "T", false, "sympy cannot parse"},
      {"`T`", "T", false, "sympy cannot parse"},
      {"'T'", "T", false, "sympy cannot parse"},
      {"yes", "T", false, "sympy not tried"},
      {"", "T", false, "empty"},
      {"C", "C", true, "mathd"},
      {"c", "C", true, "_normalize"},
      {"(C)", "C", true, "split_tuple"},
      {"[C]", "C", true, "split_tuple"},
      {"$C$", "C", true, "_normalize"},
      {"\\text{C}", "C", true, "normalize_answer"},
      {"C.", "C", false, "sympy cannot parse"},
      {"(C) money", "C", false, "sympy not tried: more than two letters"},
      {"(C)", "T", false, "sympy: t - c != 0"},
      {"\\boxed{F}", "F", true, "_parse_latex"},
      {"F degrees", "F", true, "unit words removed"},
      {"1.0", "1", true, "_normalize: integral floats as integers"},
      {"1,000", "1000", true, "_normalize: thousands commas"},
      {"", "", true, "mathd: equal"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(grade_answer(c.given, c.truth), c.correct)
        << "grade_answer(\"" << c.given << "\", \"" << c.truth << "\"): " << c.why;
}

// Where this port and mathruler part, as grade.h says: sympy's algebra and
// pylatexenc's tables. mathruler accepts all of these; we do not.
TEST(GradeAnswer, DocumentedDifferencesFromTheReference) {
  for (const char* given : {"1T", "T*1", "T+0", "2T/2", "\\frac{T}{1}", "\\foo{T}"})
    EXPECT_FALSE(grade_answer(given, "T")) << given;
}

TEST(GradeAnswer, Normalisations) {
  EXPECT_EQ(mathd_normalize(" \\text{ T } "), "T");
  EXPECT_EQ(mathd_normalize("k = 5"), "5");
  EXPECT_EQ(mathd_normalize(".T"), "0.T");
  EXPECT_EQ(mathd_normalize("a\\text{ b}\\text{ c}"), "a\\text{ b}\\text{ c}") << "the assert fails: unchanged";
  EXPECT_EQ(grader_normalize("Mondays"), "mon");
  EXPECT_EQ(grader_normalize("2.9999999999"), "3");
  EXPECT_EQ(grader_normalize("1 2 3"), "1+23");
  EXPECT_EQ(grader_normalize("- 4"), "-4");
  EXPECT_EQ(grader_normalize("1,234,567"), "1234567");
}

TEST(TfqEval, ExtractionOrderOfTheEvaluationScript) {
  EXPECT_EQ(tfq_eval_answer("<answer>T</answer> then <answer>\nF\n</answer>"), "F");  // last tag, dotall
  EXPECT_EQ(tfq_eval_answer("I think... Answer: F"), "F");
  EXPECT_EQ(tfq_eval_answer("answer: t"), "t");
  EXPECT_EQ(tfq_eval_answer("It is T, no wait, F."), "F");  // last standalone letter
  EXPECT_EQ(tfq_eval_answer("The Tree Fell"), "");
  EXPECT_EQ(tfq_eval_answer(""), "");
}

TEST(McqEval, Letters) {
  EXPECT_EQ(mcq_eval_answer("<think>..</think><answer>(C) money</answer>"), "C");
  EXPECT_EQ(mcq_eval_answer("Answer: B"), "B");
  EXPECT_EQ(mcq_eval_answer("maybe A or maybe D"), "D");
  EXPECT_EQ(mcq_eval_answer("none"), "");
}

TEST(RewardPlugins, ScoredThroughTheComponentMechanism) {
  Sandbox sb;
  auto file = sb.write("score.yaml", R"(name: score
nodes:
  loose:
    plugin: test/score
    params:
      reward: {plugin: reward/tfq}
      cases:
        - {response: "<think>x</think><answer>T</answer>", answer: T}
        - {response: "<think>x</think><answer>F</answer>", answer: T}
        - {response: "<answer>T</answer>", answer: T}
        - {response: "<think>a</think><answer>T</answer><think>b</think><answer>F</answer>", answer: T}
        - {response: "<think>x</think><answer>{T}</answer>", answer: T}
        - {response: " T ", answer: T}
        - {response: "<think>x</think> F", answer: T}
  zero:
    plugin: test/score
    params:
      reward: {plugin: reward/tfq, no_answer_tag: zero}
      cases:
        - {response: " T ", answer: T}
        - {response: "<answer>T\n</answer>", answer: T}
        - {response: "<answer>$T$</answer>", answer: T}
  strict:
    plugin: test/score
    params:
      reward: {plugin: reward/tfq, strict: true, format_weight: 0.2}
      cases:
        - {response: "<think>x</think><answer>T</answer>", answer: T}
        - {response: "<answer>T</answer>", answer: T}
        - {response: "<think>a</think><answer>T</answer><think>b</think><answer>F</answer>", answer: T}
  combined:
    plugin: test/score
    params:
      reward:
        plugin: reward/combine
        components:
          - {plugin: reward/tfq, weight: 1.0}
          - {plugin: reward/length, weight: 0.5, max_length: 4, buffer: 2}
      cases:
        - {response: "<think>x</think><answer>T</answer>", answer: T}
        - {response: "<think>a b c d e</think> <answer>T</answer>", answer: T}
)");
  auto r = sb.run({"run", file.string()});
  ASSERT_EQ(r.code(), 0) << r.err << r.out;
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  // loose: 1 + 0.5 + 0.5 + 1 (the repeated blocks pass the loose format)
  // + 1 ("{T}" is T to grade_answer) + 0.5 (no tag: the whole response is
  // graded, TFQ-GRPO_reward.py) + 0 (the whole "<think>x</think> F" is no T).
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("loose").cache_key).at("value"), 4.5);
  // zero: no tag scores nothing; a tag across a newline is no tag; "$T$" is T.
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("zero").cache_key).at("value"), 0.5);
  // strict: 1 + 0 (no format, so no accuracy) + 0.
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("strict").cache_key).at("value"), 1.0);
  // combined: (1 + 0.5*0) + (1 + 0.5*(-1)) for 1 and 7 words with L_max 4.
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("combined").cache_key).at("value"), 1.5);
}

TEST(RewardPlugins, BadComponentParamsFailTheNodeWithTheKey) {
  Sandbox sb;
  auto f1 = sb.write("bad1.yaml",
                     "name: b\nnodes:\n  s: {plugin: test/score, params: {reward: {plugin: reward/tfq, format_wieght: 2}}}\n");
  auto r1 = sb.run({"run", f1.string()});
  EXPECT_EQ(r1.code(), 2) << "nested references are validated before the run";
  EXPECT_NE(r1.err.find("did you mean 'format_weight'"), std::string::npos) << r1.err;
  auto f2 = sb.write("bad2.yaml",
                     "name: b\nnodes:\n  s:\n    plugin: test/score\n    params:\n      reward:\n"
                     "        plugin: reward/combine\n        components: [{plugin: reward/lenght}]\n");
  auto r2 = sb.run({"run", f2.string()});
  EXPECT_EQ(r2.code(), 1);
  auto reg = sb.registry();
  auto nodes = nodes_of(*reg, reg->list_runs().at(0).id);
  EXPECT_NE(nodes.at("s").reason.find("did you mean 'reward/length'"), std::string::npos) << nodes.at("s").reason;
  auto f3 = sb.write("bad3.yaml", "name: b\nnodes:\n  r: {plugin: reward/tfq}\n");
  auto r3 = sb.run({"run", f3.string()});
  EXPECT_EQ(r3.code(), 2);
  EXPECT_NE(r3.err.find("component, not a node"), std::string::npos) << r3.err;
}
