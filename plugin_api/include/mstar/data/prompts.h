// The instruction texts the benchmarks wrap around a dataset row's
// `problem`, shared with trainers so that a model is evaluated with the
// prompt it was trained on. A template holds "{problem}" where the row's
// problem goes (which itself may hold <image>); the backbone's chat template
// (Backbone::build_prompt) adds roles and the image placeholders.
//
// The TFQ text follows the reference's TFQ-GRPO format prompt in substance
// (describe the image, analyse the implication, reason, answer T or F in
// <think>...</think> <answer>...</answer>); the wording is ours.
#pragma once

#include <string>
#include <string_view>

namespace mstar::data {

inline constexpr const char* kTfqTemplate =
    "Answer the true-false question about the image with T (true) or F (false). First describe the image, "
    "then analyse what the image implies, and finally reason your way to the answer. Write the thinking "
    "process inside <think> </think> and the final answer inside <answer> </answer>, as "
    "<think>...</think> <answer>...</answer>. True-false question: {problem}";

inline constexpr const char* kMcqTemplate =
    "Answer the multiple-choice question about the image with the letter of the correct option. First "
    "describe the image, then analyse what the image implies, and finally reason your way to the answer. "
    "Write the thinking process inside <think> </think> and the letter inside <answer> </answer>, as "
    "<think>...</think> <answer>...</answer>. Multiple-choice question: {problem}";

inline constexpr const char* kOsqTemplate =
    "{problem} First describe the image and analyse what it implies inside <think> </think>, then state the "
    "implication in one sentence inside <answer> </answer>.";

// Short-answer questions (VQA, two-hop reasoning): the row as it is, the way
// the world's pretraining corpus asks them.
inline constexpr const char* kShortAnswerTemplate = "{problem}";

// `tmpl` with every "{problem}" replaced by `problem`, trimmed of surrounding
// whitespace.
inline std::string fill_template(std::string_view tmpl, std::string_view problem) {
  std::string out;
  constexpr std::string_view kSlot = "{problem}";
  size_t at = 0;
  for (size_t hit = tmpl.find(kSlot); hit != std::string_view::npos; hit = tmpl.find(kSlot, at)) {
    out.append(tmpl.substr(at, hit - at));
    out.append(problem);
    at = hit + kSlot.size();
  }
  out.append(tmpl.substr(at));
  const size_t b = out.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return out.substr(b, out.find_last_not_of(" \t\r\n") - b + 1);
}

}  // namespace mstar::data
