#include "val_answers.h"

#include "mstar/data/answers.h"
#include "mstar/error.h"

namespace mstar::algorithms {

std::string AnswerJudge::accuracy_key(const RewardFunction& reward) {
  const RewardResult probe = reward.score("", Json{{"answer", "T"}});
  for (const auto& [k, v] : probe.components)
    if (k == "accuracy" || k.ends_with(".accuracy")) return k;
  return "";
}

AnswerJudge::AnswerJudge(std::shared_ptr<const RewardFunction> reward) : reward_(std::move(reward)) {
  if (!reward_) throw Error(ErrorCategory::Internal, "AnswerJudge: null reward");
  key_ = accuracy_key(*reward_);
  if (key_.empty())
    throw_bad_input("val_answers: reward needs a reward that reports an accuracy part (reward/tfq, reward/mcq, or a "
                    "reward/combine holding one); use val_answers: lenient otherwise");
}

AnswerVerdict AnswerJudge::judge(std::string_view response, const Json& sample) const {
  AnswerVerdict v;
  const std::string truth = sample.value("answer", "");
  if (!reward_) {
    const std::string said = data::tfq_eval_answer(response);
    v.correct = data::answers_equal(said, truth);
    v.said_t = data::answers_equal(said, "T");
    v.said_f = data::answers_equal(said, "F");
    return v;
  }
  auto accurate = [&](const RewardResult& r) {
    auto it = r.components.find(key_);
    return it != r.components.end() && it->second > 0.5;
  };
  const RewardResult scored = reward_->score(response, sample);
  v.reward = scored.overall;
  v.correct = accurate(scored);
  Json as = sample;
  for (const char* letter : {"T", "F"}) {
    as["answer"] = letter;
    const bool said = truth == letter ? v.correct : accurate(reward_->score(response, as));
    (letter[0] == 'T' ? v.said_t : v.said_f) = said;
  }
  return v;
}

}  // namespace mstar::algorithms
