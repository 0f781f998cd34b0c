// Answer extraction and the reward plugins, case by case against the
// reference's rules, plus the component mechanism end to end.
#include <gtest/gtest.h>

#include "host_helpers.h"
#include "mstar/text/answers.h"

using namespace mstar::text;
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
  EXPECT_TRUE(answers_equal("t", "T"));
  EXPECT_FALSE(answers_equal("True", "T"));
  EXPECT_FALSE(answers_equal("", ""));
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
  // loose: 1 + 0.5 + 0.5 + 1 (the repeated blocks pass the loose format).
  EXPECT_DOUBLE_EQ(reg->summaries(nodes.at("loose").cache_key).at("value"), 3.0);
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
