// How in-training validation judges one answer to a T/F statement
// (val_answers). No LibTorch: tests/algorithms_math_test.cpp checks it with
// a reward of its own.
//
//   reward   (default) as the reference's trainer: _validate in
//            train/verl/trainer/ray_trainer.py scores validation responses
//            with the reward function and logs its parts, so its accuracy is
//            the reward's accuracy (TFQ-GRPO_reward.py: the first <answer>,
//            else the whole response, by grade_answer). Correct = the
//            reward's accuracy part; said T / said F = that part when the
//            truth is "T" / "F".
//   lenient  mstar's own extractor, data::tfq_eval_answer (the last
//            <answer>, else "Answer: X", else the last standalone T or F),
//            compared ignoring case. No reference script uses it.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mstar/json.h"
#include "mstar/reward.h"

namespace mstar::algorithms {

struct AnswerVerdict {
  bool correct = false;
  bool said_t = false;
  bool said_f = false;
  double reward = 0;  // the reward's overall score (reward mode; 0 otherwise)
};

class AnswerJudge {
 public:
  // Lenient mode.
  AnswerJudge() = default;
  // Reward mode. Throws BadInput when `reward` reports no accuracy part
  // ("accuracy", or a combined reward's "NAME.accuracy").
  explicit AnswerJudge(std::shared_ptr<const RewardFunction> reward);

  // The accuracy part a reward reports for an empty response, "" if none.
  static std::string accuracy_key(const RewardFunction& reward);

  bool uses_reward() const { return reward_ != nullptr; }
  // `sample` is the row handed to rewards; its "answer" is the truth.
  AnswerVerdict judge(std::string_view response, const Json& sample) const;

 private:
  std::shared_ptr<const RewardFunction> reward_;
  std::string key_;
};

}  // namespace mstar::algorithms
