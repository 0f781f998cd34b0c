// Answer extraction and format checks, written to match the MetaphorStar
// reference: the TFQ reward of its EasyR1 fork (train/) and its evaluation
// scripts (eval_TFQ.py, eval_MCQ.py). The rules are spelled out next to each
// function because they decide what counts as correct.
#pragma once

#include <string>
#include <string_view>

namespace mstar::text {

// The whole response matches <think>.*?</think>.*?<answer>.*?</answer>
// (dot matches newlines), as the reference's format reward.
bool tfq_format_ok(std::string_view response);
// Strict variant (off by default in reward/tfq): also exactly one think and
// one answer block, and a non-empty think.
bool tfq_strict_format_ok(std::string_view response);
// Training-time accuracy: the first <answer>(.*?)</answer> without crossing
// a newline, stripped; "" when absent.
std::string tfq_reward_answer(std::string_view response);
// Correct when equal to the ground truth ignoring case ("t" = "T", "True" != "T").
bool answers_equal(std::string_view answer, std::string_view truth);

// Evaluation-time extraction (eval_TFQ.py): the last <answer>...</answer>
// (dot matches newlines), else "Answer: T|F", else the last standalone T or F
// word, else "". Stripped.
std::string tfq_eval_answer(std::string_view response);
// eval_MCQ.py: the last <answer>...</answer> if present (its first letter
// A-F), else "Answer: X", else the last standalone capital letter A-F; "".
std::string mcq_eval_answer(std::string_view response);

}  // namespace mstar::text
