// The batch samplers of algorithm/grpo and algorithm/sft: literal_mix puts
// its share of literal rows in every batch, deterministically given the seed,
// with or without balanced answers, and resumes from its checkpoint state.
#include <set>

#include <gtest/gtest.h>

#include "examples.h"
#include "mstar/error.h"

using namespace mstar::algorithms;

namespace {

// 12 literal rows and 36 others, answers alternating T/F in each.
std::vector<Example> rows() {
  std::vector<Example> out;
  for (int i = 0; i < 48; ++i) {
    Example e;
    e.row.level = i < 12 ? "literal" : (i % 2 ? "symbolic" : "implication");
    e.row.answer = i % 2 ? "T" : "F";
    out.push_back(e);
  }
  return out;
}

size_t literal_count(const std::vector<Example>& ex, const std::vector<int64_t>& batch) {
  size_t n = 0;
  for (int64_t i : batch) n += ex[static_cast<size_t>(i)].row.level == "literal";
  return n;
}

LevelMix mix(double fraction) {
  LevelMix m;
  m.fraction = fraction;
  return m;
}

TEST(LiteralMix, EachBatchHoldsItsShareOfLiteralRows) {
  const auto ex = rows();
  for (bool balanced : {false, true}) {
    BatchSampler s(ex, 7, true, balanced, mix(0.25));
    for (int step = 0; step < 30; ++step) {
      const std::vector<int64_t> b = s.next(8);
      ASSERT_EQ(b.size(), 8u);
      EXPECT_EQ(literal_count(ex, b), 2u) << "0.25 of 8, step " << step << (balanced ? " balanced" : "");
      if (balanced) {
        size_t t = 0;
        for (int64_t i : b) t += ex[static_cast<size_t>(i)].row.answer == "T";
        EXPECT_EQ(t, 4u) << "each pool balanced: 3 T of 6 others, 1 T of 2 literal";
      }
    }
  }
  // Rounding: 0.25 of 10 is 2.5, rounded to 3; of 6, 1.5 -> 2.
  BatchSampler s(ex, 7, true, false, mix(0.25));
  EXPECT_EQ(literal_count(ex, s.next(10)), 3u);
  EXPECT_EQ(literal_count(ex, s.next(6)), 2u);
  // Without a mix the literal rows are sampled like the others: the natural
  // share (a quarter) on average, not in every batch.
  BatchSampler plain(ex, 7, true, false);
  std::set<size_t> counts;
  for (int step = 0; step < 30; ++step) counts.insert(literal_count(ex, plain.next(8)));
  EXPECT_GT(counts.size(), 1u);
}

TEST(LiteralMix, DeterministicGivenTheSeedAndResumable) {
  const auto ex = rows();
  BatchSampler a(ex, 11, true, true, mix(0.25)), b(ex, 11, true, true, mix(0.25)), c(ex, 12, true, true, mix(0.25));
  bool differs = false;
  for (int step = 0; step < 10; ++step) {
    const auto x = a.next(8);
    EXPECT_EQ(x, b.next(8));
    differs = differs || x != c.next(8);
  }
  EXPECT_TRUE(differs) << "another seed, other batches";
  const mstar::Json state = a.state();
  ASSERT_TRUE(state.contains("mixed"));
  BatchSampler resumed(ex, 11, true, true, mix(0.25));
  resumed.restore(state);
  for (int step = 0; step < 10; ++step) EXPECT_EQ(a.next(8), resumed.next(8));
  EXPECT_FALSE(BatchSampler(ex, 11, true, true).state().contains("mixed")) << "no mix: the old state";
}

TEST(LiteralMix, LevelsAndErrors) {
  EXPECT_EQ(levels_with({"symbolic", "implication"}, mix(0.25)),
            (std::vector<std::string>{"symbolic", "implication", "literal"}));
  EXPECT_EQ(levels_with({"symbolic"}, mix(0)), (std::vector<std::string>{"symbolic"}));
  EXPECT_TRUE(levels_with({}, mix(0.5)).empty()) << "empty keeps every level already";
  auto ex = rows();
  ex.erase(ex.begin(), ex.begin() + 12);
  try {
    BatchSampler(ex, 1, true, false, mix(0.25));
    FAIL() << "no literal rows";
  } catch (const mstar::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no rows of level 'literal'"), std::string::npos) << e.what();
  }
}

}  // namespace

// GRPO's collapse detector watches the trained levels' groups: the mixed-in
// literal groups (last in the batch) do not count, except when the mix is
// the whole batch.
TEST(LiteralMix, MixedShareCountsTheTrainedLevelsGroupsOnly) {
  // 4 groups of 2: trained [mixed, same], literal [same, same].
  const std::vector<double> scores = {0, 1, 1, 1, 1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(trained_mixed_share(scores, 2, mix(0.5), 4), 0.5);
  EXPECT_DOUBLE_EQ(trained_mixed_share(scores, 2, mix(0.0), 4), 0.25);   // no mix: every group
  EXPECT_DOUBLE_EQ(trained_mixed_share(scores, 2, mix(0.75), 4), 1.0);   // one trained group, mixed
  EXPECT_DOUBLE_EQ(trained_mixed_share(scores, 2, mix(1.0), 4), 0.25);   // all mixed in: every group
  EXPECT_DOUBLE_EQ(trained_mixed_share({}, 2, mix(0.5), 4), 0.0);
}

// A collapse is a fall: unanimous groups from the start do not stop a run;
// after the share has once reached the threshold, `patience` steps below it do.
TEST(CollapseDetector, ArmsAtTheThresholdThenStopsAfterPatienceStepsBelow) {
  CollapseDetector d;
  d.threshold = 0.3;
  d.patience = 3;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.update(0.1), "") << "not armed yet, step " << i;
  EXPECT_EQ(d.update(0.5), "");
  EXPECT_EQ(d.update(0.1), "");
  EXPECT_EQ(d.update(0.2), "");
  EXPECT_EQ(d.update(0.4), "") << "a step at the threshold resets the count";
  EXPECT_EQ(d.update(0.1), "");
  EXPECT_EQ(d.update(0.1), "");
  EXPECT_NE(d.update(0.1).find("collapse: mixed-reward groups below 0.3 for 3 steps"), std::string::npos);
  CollapseDetector off;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(off.update(0.5 - 0.5 * (i > 0)), "") << "threshold 0: off";
}
