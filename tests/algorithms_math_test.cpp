// The policy-gradient math against hand-computed values: advantage
// estimators, KL estimators, the clipped loss (dual clip included), loss
// aggregation, the learning-rate schedule, the guarded optimizer step, and
// the sign of a policy-gradient step; and how validation judges an answer.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mstar/data/answers.h"
#include "mstar/data/grade.h"
#include "mstar/data/regex.h"
#include "mstar/error.h"
#include "mstar/ml/sampling.h"
#include "rl_math.h"
#include "trainer.h"
#include "val_answers.h"

using namespace mstar::algorithms;

namespace {

torch::Tensor t1(std::vector<double> v) { return torch::tensor(v, torch::kFloat64).to(torch::kFloat32); }
torch::Tensor t2(std::vector<std::vector<double>> rows) {
  std::vector<torch::Tensor> out;
  for (auto& r : rows) out.push_back(t1(r));
  return torch::stack(out);
}
double val(const torch::Tensor& t, int64_t i) { return t.to(torch::kFloat64)[i].item<double>(); }
double val(const torch::Tensor& t, int64_t i, int64_t j) { return t.to(torch::kFloat64)[i][j].item<double>(); }

}  // namespace

TEST(Advantages, GrpoDividesByTheUnbiasedGroupStd) {
  // Group 0: {1, 0, 0, 1}: mean 0.5, unbiased std sqrt(1/3) = 0.5773503.
  // Group 1: {1, 2, 3}: mean 2, std 1.
  torch::Tensor a = group_advantages(t1({1, 0, 0, 1, 1, 2, 3}), {0, 0, 0, 0, 1, 1, 1}, AdvantageEstimator::Grpo);
  const double g0 = 0.5 / (std::sqrt(1.0 / 3.0) + 1e-6);
  EXPECT_NEAR(val(a, 0), g0, 1e-6);
  EXPECT_NEAR(val(a, 1), -g0, 1e-6);
  EXPECT_NEAR(val(a, 0), 0.8660239, 1e-6);
  EXPECT_NEAR(val(a, 4), -1.0 / (1.0 + 1e-6), 1e-6);
  EXPECT_EQ(val(a, 5), 0.0);
  EXPECT_NEAR(val(a, 6), 1.0 / (1.0 + 1e-6), 1e-6);
}

TEST(Advantages, AllEqualGroupGetsExactlyZero) {
  // 0.1 is not exact in binary: a computed mean would leave ~1e-17 / 1e-6.
  for (auto est : {AdvantageEstimator::Grpo, AdvantageEstimator::DrGrpo, AdvantageEstimator::Rloo}) {
    torch::Tensor a = group_advantages(t1({0.1, 0.1, 0.1, 0.1, 0.1, 1, 1, 1}), {3, 3, 3, 3, 3, 7, 7, 7}, est);
    for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(val(a, i), 0.0) << i;
  }
}

TEST(Advantages, DrGrpoAndRloo) {
  torch::Tensor dr = group_advantages(t1({1, 0, 0, 1}), {0, 0, 0, 0}, AdvantageEstimator::DrGrpo);
  EXPECT_NEAR(val(dr, 0), 0.5, 1e-7);
  EXPECT_NEAR(val(dr, 1), -0.5, 1e-7);
  // RLOO of {1, 2, 3}: r - mean of the others = -1.5, 0, 1.5.
  torch::Tensor rloo = group_advantages(t1({1, 2, 3}), {5, 5, 5}, AdvantageEstimator::Rloo);
  EXPECT_NEAR(val(rloo, 0), -1.5, 1e-6);
  EXPECT_NEAR(val(rloo, 1), 0.0, 1e-6);
  EXPECT_NEAR(val(rloo, 2), 1.5, 1e-6);
}

TEST(Advantages, OneSampleGroupsAreRefusedByGrpo) {
  EXPECT_THROW(group_advantages(t1({1, 0}), {0, 1}, AdvantageEstimator::Grpo), mstar::Error);
  EXPECT_THROW(group_advantages(t1({1, 0}), {0, 1}, AdvantageEstimator::Rloo), mstar::Error);
}

TEST(Advantages, BroadcastOverResponseTokensFromTheLastTokenReward) {
  torch::Tensor mask = t2({{1, 1, 1}, {1, 0, 0}});
  torch::Tensor rewards = outcome_token_rewards(t1({1, 0}), mask);
  EXPECT_EQ(val(rewards, 0, 2), 1.0);
  EXPECT_EQ(val(rewards, 0, 0), 0.0);
  EXPECT_EQ(val(rewards, 1, 0), 0.0);
  torch::Tensor a = token_advantages(rewards, mask, {0, 0}, AdvantageEstimator::Grpo);
  const double g = 0.5 / (std::sqrt(0.5) + 1e-6);  // {1, 0}: std sqrt(0.5)
  for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(val(a, 0, j), g, 1e-6);
  EXPECT_NEAR(val(a, 1, 0), -g, 1e-6);
  EXPECT_EQ(val(a, 1, 1), 0.0);  // padding
}

TEST(Advantages, ReinforcePlusPlusWhitensDiscountedReturns) {
  // Returns with gamma 1: row 0 {1, 1, 1}; row 1 {2, 2, -} (reset after its end).
  // Masked values {1,1,1,2,2}: mean 1.4, unbiased variance 0.3.
  torch::Tensor mask = t2({{1, 1, 1}, {1, 1, 0}});
  torch::Tensor rewards = t2({{0, 0, 1}, {0, 2, 0}});
  torch::Tensor a = token_advantages(rewards, mask, {0, 1}, AdvantageEstimator::ReinforcePlusPlus, 1.0);
  EXPECT_NEAR(val(a, 0, 0), -0.4 / std::sqrt(0.3), 1e-5);
  EXPECT_NEAR(val(a, 0, 2), -0.7302967, 1e-5);
  EXPECT_NEAR(val(a, 1, 0), 1.0954451, 1e-5);
  EXPECT_EQ(val(a, 1, 2), 0.0);
}

TEST(PolicyLoss, ClipInLogSpaceAndDualClip) {
  const ClipConfig clip{0.2, 0.3, 3.0};
  // Columns: A = 1 with ratio 1.5 (clipped to 1.3), A = 1 with ratio 1.1,
  // A = -1 with ratio 0.5 (clipped to 0.8), A = -1 with ratio 4 (dual clip at 3),
  // A = -2 with ratio 2 (under the dual bound 6).
  torch::Tensor ratio = t2({{1.5, 1.1, 0.5, 4.0, 2.0}});
  torch::Tensor adv = t2({{1, 1, -1, -1, -2}});
  PolicyLoss pl = policy_loss(ratio.log(), torch::zeros_like(ratio), adv, clip);
  const double expected[] = {-1.3, -1.1, 0.8, 3.0, 4.0};
  const double higher[] = {1, 0, 1, 0, 0};
  const double lower[] = {0, 0, 0, 1, 0};
  for (int64_t j = 0; j < 5; ++j) {
    EXPECT_NEAR(val(pl.loss, 0, j), expected[j], 1e-5) << j;
    EXPECT_EQ(val(pl.clipped_higher, 0, j), higher[j]) << j;
    EXPECT_EQ(val(pl.clipped_lower, 0, j), lower[j]) << j;
  }
  EXPECT_NEAR(val(pl.log_ratio, 0, 3), std::log(4.0), 1e-6);
}

TEST(PolicyLoss, GradientStepRaisesTheLogProbOfPositiveAdvantages) {
  // Sign test: log p from logits; one SGD step on the policy loss moves log p
  // of the sampled token up for A > 0 and down for A < 0.
  for (double advantage : {1.0, -1.0}) {
    torch::Tensor logits = torch::tensor({0.3, -0.2, 0.1, 0.0}).unsqueeze(0).unsqueeze(0).set_requires_grad(true);
    torch::Tensor target = torch::tensor({2}, torch::kInt64).unsqueeze(0);
    torch::Tensor lp = mstar::ml::token_logprobs(logits, target);
    EXPECT_LT(lp.item<double>(), 0.0);
    EXPECT_NEAR(lp.item<double>(), std::log(std::exp(0.1) / (std::exp(0.3) + std::exp(-0.2) + std::exp(0.1) + 1.0)), 1e-6);
    PolicyLoss pl = policy_loss(lp, lp.detach(), torch::full({1, 1}, advantage), ClipConfig{});
    aggregate(pl.loss, torch::ones({1, 1}), LossAggregation::TokenMean).backward();
    torch::Tensor after = mstar::ml::token_logprobs(logits.detach() - 0.5 * logits.grad(), target);
    if (advantage > 0) EXPECT_GT(after.item<double>(), lp.item<double>());
    else EXPECT_LT(after.item<double>(), lp.item<double>());
  }
}

TEST(Kl, EstimatorsByHand) {
  // log pi = log 0.5, log ref = log 0.25.
  torch::Tensor lp = t2({{std::log(0.5)}}), ref = t2({{std::log(0.25)}});
  EXPECT_NEAR(val(kl_estimate(lp, ref, KlPenalty::Kl), 0, 0), std::log(2.0), 1e-6);
  EXPECT_NEAR(val(kl_estimate(ref, lp, KlPenalty::Abs), 0, 0), std::log(2.0), 1e-6);
  EXPECT_NEAR(val(kl_estimate(lp, ref, KlPenalty::Mse), 0, 0), 0.5 * std::log(2.0) * std::log(2.0), 1e-6);
  // k3 = exp(ref - pi) - (ref - pi) - 1 = 0.5 + ln 2 - 1.
  EXPECT_NEAR(val(kl_estimate(lp, ref, KlPenalty::LowVarKl), 0, 0), 0.1931472, 1e-6);
  // Clamped: a difference of 30 becomes 20, then the value is capped at 10.
  EXPECT_EQ(val(kl_estimate(t2({{-30.0}}), t2({{0.0}}), KlPenalty::LowVarKl), 0, 0), 10.0);
  for (auto k : {KlPenalty::Kl, KlPenalty::Abs, KlPenalty::Mse, KlPenalty::LowVarKl})
    EXPECT_EQ(val(kl_estimate(lp, lp, k), 0, 0), 0.0);
  EXPECT_THROW(kl_estimate(lp, ref, KlPenalty::Full), mstar::Error);
}

TEST(Kl, FullOverTheVocabularyBothDirections) {
  // pi = {0.7, 0.2, 0.1}, ref = {0.2, 0.3, 0.5} at one position.
  torch::Tensor pi = torch::tensor({0.7, 0.2, 0.1}, torch::kFloat64).log().to(torch::kFloat32).view({1, 1, 3});
  torch::Tensor ref = torch::tensor({0.2, 0.3, 0.5}, torch::kFloat64).log().to(torch::kFloat32).view({1, 1, 3});
  // KL(ref || pi) = 0.2 ln(2/7) + 0.3 ln(3/2) + 0.5 ln 5.
  EXPECT_NEAR(val(kl_full(pi, ref, KlPenalty::Full), 0, 0), 0.675806, 1e-5);
  // KL(pi || ref) = 0.7 ln 3.5 + 0.2 ln(2/3) + 0.1 ln 0.2.
  EXPECT_NEAR(val(kl_full(pi, ref, KlPenalty::FullReverse), 0, 0), 0.634897, 1e-5);
  EXPECT_EQ(val(kl_full(pi, pi, KlPenalty::Full), 0, 0), 0.0);
  EXPECT_TRUE(needs_distributions(KlPenalty::Full));
  EXPECT_FALSE(needs_distributions(KlPenalty::LowVarKl));
}

TEST(Aggregation, EachModeByHandAndMicroBatchesAddUp) {
  torch::Tensor v = t2({{1, 2, 3}, {4, 5, 6}});
  torch::Tensor m = t2({{1, 1, 0}, {1, 0, 0}});
  EXPECT_NEAR(aggregate(v, m, LossAggregation::TokenMean).item<double>(), 7.0 / 3.0, 1e-6);
  EXPECT_NEAR(aggregate(v, m, LossAggregation::SeqMeanTokenMean).item<double>(), (1.5 + 4.0) / 2.0, 1e-6);
  EXPECT_NEAR(aggregate(v, m, LossAggregation::SeqMeanTokenSumNorm, 4.0).item<double>(), 7.0 / 8.0, 1e-6);
  // Token mean over the mini-batch, not the mean of micro-batch means (7/3, not (1.5 + 4) / 2).
  for (auto mode : {LossAggregation::TokenMean, LossAggregation::SeqMeanTokenMean, LossAggregation::SeqMeanTokenSumNorm}) {
    const AggregationNorm whole = aggregation_norm(m, 4.0);
    const double split = aggregate(v.narrow(0, 0, 1), m.narrow(0, 0, 1), mode, whole).item<double>() +
                         aggregate(v.narrow(0, 1, 1), m.narrow(0, 1, 1), mode, whole).item<double>();
    EXPECT_NEAR(split, aggregate(v, m, mode, 4.0).item<double>(), 1e-6);
  }
  EXPECT_EQ(loss_aggregation_from_string("seq-mean-token-sum-norm"), LossAggregation::SeqMeanTokenSumNorm);
  EXPECT_THROW(loss_aggregation_from_string("token_mean"), mstar::Error);
}

TEST(Schedule, WarmupThenConstantOrCosine) {
  LrScheduleConfig c{1.0, LrSchedule::Cosine, 0.1, 0.0};
  EXPECT_NEAR(learning_rate(c, 0, 100), 0.1, 1e-12);  // warmup of 10 updates
  EXPECT_NEAR(learning_rate(c, 9, 100), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(c, 10, 100), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(c, 55, 100), 0.5, 1e-12);  // half way down the cosine
  EXPECT_NEAR(learning_rate(c, 100, 100), 0.0, 1e-12);
  c.min_lr_ratio = 0.1;
  EXPECT_NEAR(learning_rate(c, 100, 100), 0.1, 1e-12);
  c.schedule = LrSchedule::Constant;
  EXPECT_NEAR(learning_rate(c, 50, 100), 1.0, 1e-12);
}

TEST(OptimizerStep, NonFiniteGradientNormSkipsTheUpdate) {
  torch::Tensor w = torch::ones({3}).set_requires_grad(true);
  OptimizerConfig config;
  config.schedule.lr = 0.1;
  Optimizer opt({w}, config, 10);
  (w * std::nan("")).sum().backward();
  Optimizer::StepResult r = opt.step();
  EXPECT_TRUE(r.skipped);
  EXPECT_FALSE(std::isfinite(r.grad_norm));
  EXPECT_TRUE(torch::equal(w.detach(), torch::ones({3})));
  EXPECT_FALSE(w.grad().defined()) << "gradients are dropped";
  (w * 10.0).sum().backward();  // norm 17.3, clipped to 1
  r = opt.step();
  EXPECT_FALSE(r.skipped);
  EXPECT_NEAR(r.grad_norm, std::sqrt(300.0), 1e-4);
  EXPECT_LT(w.detach()[0].item<double>(), 1.0);
  EXPECT_EQ(opt.updates(), 2);
}

namespace {

// The accuracy of TFQ-GRPO_reward.py, as reward/tfq computes it: the first
// <answer> on one line, else the whole response, by grade_answer.
class ReferenceLikeReward : public mstar::RewardFunction {
 public:
  explicit ReferenceLikeReward(std::string part = "accuracy") : part_(std::move(part)) {}
  mstar::RewardResult score(std::string_view response, const mstar::Json& sample) const override {
    const auto tag = mstar::data::tfq_reward_tag(response);
    const bool ok =
        mstar::data::grade_answer(tag ? *tag : mstar::data::strip(response), sample.value("answer", ""));
    return {ok ? 0.75 : 0.25, {{part_, ok ? 1.0 : 0.0}}};
  }

 private:
  std::string part_;
};

class NoAccuracyReward : public mstar::RewardFunction {
 public:
  mstar::RewardResult score(std::string_view, const mstar::Json&) const override { return {1.0, {{"length", 1}}}; }
};

}  // namespace

// ray_trainer.py _validate scores validation answers with the reward
// function: its accuracy is the reward's, not an evaluation script's.
TEST(ValidationAnswers, RewardModeUsesTheRewardsAccuracy) {
  const AnswerJudge reward(std::make_shared<ReferenceLikeReward>());
  const AnswerJudge lenient;
  const mstar::Json t = {{"answer", "T"}};
  // A LaTeX-wrapped letter: grade_answer reads it as T; the lenient extractor does not.
  AnswerVerdict v = reward.judge("<think>x</think><answer>\\text{T}</answer>", t);
  EXPECT_TRUE(v.correct);
  EXPECT_TRUE(v.said_t);
  EXPECT_FALSE(v.said_f);
  EXPECT_DOUBLE_EQ(v.reward, 0.75);
  EXPECT_FALSE(lenient.judge("<think>x</think><answer>\\text{T}</answer>", t).correct);
  // No tag: the reward grades the whole response, which is no letter; the
  // lenient extractor takes the last standalone F.
  v = reward.judge("The answer is F", t);
  EXPECT_FALSE(v.correct);
  EXPECT_FALSE(v.said_t || v.said_f) << "not an answer to the reward";
  const AnswerVerdict l = lenient.judge("The answer is F", t);
  EXPECT_TRUE(l.said_f);
  EXPECT_DOUBLE_EQ(l.reward, 0.0);
  // An untagged bare letter is graded whole.
  EXPECT_TRUE(reward.judge(" T ", t).correct);
  EXPECT_TRUE(reward.judge("<answer>F</answer>", {{"answer", "F"}}).said_f);
}

TEST(ValidationAnswers, AccuracyPartOfACombinedReward) {
  EXPECT_EQ(AnswerJudge::accuracy_key(ReferenceLikeReward("tfq.accuracy")), "tfq.accuracy");
  EXPECT_TRUE(AnswerJudge(std::make_shared<ReferenceLikeReward>("tfq.accuracy")).judge("T", {{"answer", "T"}}).correct);
  EXPECT_EQ(AnswerJudge::accuracy_key(NoAccuracyReward()), "");
  try {
    AnswerJudge judge(std::make_shared<NoAccuracyReward>());
    FAIL() << "a reward without an accuracy part is refused";
  } catch (const mstar::Error& e) {
    EXPECT_TRUE(e.is_bad_input());
    EXPECT_NE(std::string(e.what()).find("val_answers"), std::string::npos) << e.what();
  }
}
