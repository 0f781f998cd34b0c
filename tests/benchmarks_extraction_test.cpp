// Answer extraction as the reference's evaluation scripts do it. Every
// expected value below was checked against eval_TFQ.py / eval_MCQ.py's
// regular expressions run by Python 3 (None is written as "").
#include <gtest/gtest.h>

#include "mstar/data/answers.h"
#include "mstar/data/prompts.h"

using namespace mstar::data;

TEST(TfqReferenceAnswer, LastAnswerTagWinsAndDotMatchesNewlines) {
  EXPECT_EQ(tfq_reference_answer("<answer>T</answer> then <answer>\nF\n</answer>"), "F");
  EXPECT_EQ(tfq_reference_answer("<think>it is red</think> <answer>T</answer>"), "T");
  // An empty last tag is the answer: the script does not fall through.
  EXPECT_EQ(tfq_reference_answer("<answer>T</answer><answer> </answer> F"), "");
  // Whatever the tag holds is the answer, even when it is not a letter.
  EXPECT_EQ(tfq_reference_answer("<answer>True</answer>"), "True");
}

TEST(TfqReferenceAnswer, MissingTagsFallBackToAnswerLabelThenStandaloneLetter) {
  EXPECT_EQ(tfq_reference_answer("I think... Answer: F"), "F");
  EXPECT_EQ(tfq_reference_answer("Answer: True"), "T");                   // no word boundary after the letter
  EXPECT_EQ(tfq_reference_answer("Answer: T and later Answer: F"), "T");  // the first label
  EXPECT_EQ(tfq_reference_answer("<think>T</think> Answer:\nF"), "F");
  EXPECT_EQ(tfq_reference_answer("answer: F"), "F");  // the lower-case label is no label; F stands alone
  EXPECT_EQ(tfq_reference_answer("answer: t"), "");   // ...and a lower-case letter is no answer
  EXPECT_EQ(tfq_reference_answer("It is T, no wait, F."), "F");
  EXPECT_EQ(tfq_reference_answer("F<answer>"), "F");  // an unclosed tag is no tag
  EXPECT_EQ(tfq_reference_answer("The Tree Fell"), "");
  EXPECT_EQ(tfq_reference_answer(""), "");
  // \b is Unicode-aware, as in Python 3: an accented letter is a word character.
  EXPECT_EQ(tfq_reference_answer("na\xC3\xAFveT"), "");
  EXPECT_EQ(tfq_reference_answer("T\xC3\xA9"), "");
}

TEST(TfqReferenceAnswer, ComparisonIgnoresCaseOnly) {
  EXPECT_TRUE(reference_answers_equal(tfq_reference_answer("<answer>t</answer>"), "T"));
  EXPECT_TRUE(reference_answers_equal(tfq_reference_answer("<answer> F </answer>"), "F"));
  EXPECT_FALSE(reference_answers_equal(tfq_reference_answer("<answer>True</answer>"), "T"));
  EXPECT_FALSE(reference_answers_equal(tfq_reference_answer("<answer></answer>"), ""));
  EXPECT_FALSE(reference_answers_equal("", "T"));
}

TEST(McqReferenceAnswer, TagContentOrFirstAnswerLabel) {
  EXPECT_EQ(mcq_reference_answer("<think>..</think><answer>(C) money</answer>"), "(C) money");
  EXPECT_EQ(mcq_reference_answer("<answer> c </answer>"), "c");
  EXPECT_EQ(mcq_reference_answer("<answer>A</answer> and <answer>B</answer>"), "B");
  EXPECT_EQ(mcq_reference_answer("Answer: B"), "B");
  EXPECT_EQ(mcq_reference_answer("Answer:b"), "b");
  EXPECT_EQ(mcq_reference_answer("Answer: (C)"), "");
  EXPECT_EQ(mcq_reference_answer("maybe A or maybe D"), "");  // no standalone-letter fallback
  EXPECT_EQ(mcq_reference_answer("<answer></answer> Answer: B"), "");
  EXPECT_TRUE(reference_answers_equal(mcq_reference_answer("<answer> c </answer>"), "C"));
  EXPECT_FALSE(reference_answers_equal(mcq_reference_answer("<answer>(C) money</answer>"), "C"));
}

TEST(FinalAnswerText, AnswerTagElseResponseWithoutThinking) {
  EXPECT_EQ(final_answer_text("<think>count them</think> <answer> 3 </answer>"), "3");
  EXPECT_EQ(final_answer_text("<think>count them</think> three"), "three");
  EXPECT_EQ(final_answer_text("blue"), "blue");
  EXPECT_EQ(final_answer_text("<think>never closed ... blue"), "");
  EXPECT_EQ(final_answer_text("still thinking </think> red"), "red");
  EXPECT_EQ(final_answer_text("<answer>unclosed red"), "unclosed red");
  EXPECT_EQ(final_answer_text(""), "");
}

TEST(NormalizeShortAnswer, CaseArticlesPunctuationAndNumbers) {
  EXPECT_EQ(normalize_short_answer("The Two."), "2");
  EXPECT_EQ(normalize_short_answer("  a Red sun! "), "red sun");
  EXPECT_EQ(normalize_short_answer("3.5"), "3.5");
  EXPECT_EQ(normalize_short_answer("center"), "centre");
  EXPECT_EQ(normalize_short_answer("twenty"), "20");
  EXPECT_EQ(normalize_short_answer("an apple, a tree"), "apple tree");
  EXPECT_EQ(normalize_short_answer("..."), "");
  EXPECT_EQ(normalize_short_answer(normalize_short_answer("The Four")), normalize_short_answer("4"));
}

TEST(PromptTemplate, FillsEveryProblemSlot) {
  EXPECT_EQ(fill_template("{problem}", "<image> is it red?"), "<image> is it red?");
  EXPECT_EQ(fill_template("Q: {problem} / {problem} ", "x"), "Q: x / x");
  EXPECT_EQ(fill_template("no slot", "x"), "no slot");
  const std::string tfq = fill_template(kTfqTemplate, "<image> true or false: the sun is red.");
  EXPECT_NE(tfq.find("<think>...</think> <answer>...</answer>"), std::string::npos);
  EXPECT_TRUE(tfq.ends_with("<image> true or false: the sun is red."));
}
