// Answer extraction and format checks. Two families, kept apart because
// they decide what counts as correct:
// - the MetaphorStar reference's own rules, each naming the file it follows:
//   the TFQ reward of its EasyR1 fork
//   (train/examples/reward_function/TFQ-GRPO_reward.py; its answer check,
//   mathruler's grade_answer, is in grade.h) and its evaluation scripts
//   (evaluation/eval_TFQ.py, eval_MCQ.py);
// - mstar's own lenient extractors (tfq_eval_answer, mcq_eval_answer),
//   which no reference script uses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mstar::data {

// TFQ-GRPO_reward.py format_reward: the whole response matches
// <think>.*?</think>.*?<answer>.*?</answer> (dot matches newlines).
bool tfq_format_ok(std::string_view response);
// mstar's strict variant (off by default in reward/tfq): also exactly one
// think and one answer block, and a non-empty think.
bool tfq_strict_format_ok(std::string_view response);
// TFQ-GRPO_reward.py accuracy_reward's re.search: the first
// <answer>(.*?)</answer> that does not cross a newline, stripped; nullopt
// when there is none (the reference then grades the whole response).
std::optional<std::string> tfq_reward_tag(std::string_view response);
// The same, "" when absent.
std::string tfq_reward_answer(std::string_view response);
// mstar's plain comparison: equal to the ground truth ignoring case and
// surrounding space ("t" = "T", "True" != "T", "{T}" != "T"). The reward
// follows the reference's grade_answer (grade.h) instead.
bool answers_equal(std::string_view answer, std::string_view truth);

// mstar's lenient extractors (no reference script uses them; in-training
// validation can, with val_answers: lenient). TFQ: the last
// <answer>...</answer> (dot matches newlines), else "Answer: T|F" ignoring
// case, else the last standalone T or F word, else "". Stripped.
std::string tfq_eval_answer(std::string_view response);
// MCQ (reward/mcq): the last <answer>...</answer> if present (its first
// letter A-F), else "Answer: X", else the last standalone capital A-F; "".
std::string mcq_eval_answer(std::string_view response);

// The reference scripts exactly, for benchmarks whose predictions the
// paper's own scripts must score the same way. They differ from the lenient
// extractors above, which the rewards use:
//
// eval_TFQ.py: if the response holds any <answer>...</answer> (dot matches
// newlines), the last one's content, stripped, even when that is empty;
// else the FIRST "Answer:" followed by optional whitespace and T or F
// (case-sensitive, so "answer: t" does not count, and "Answer: True" gives
// "T"); else the last standalone T or F (\b, Unicode as Python's); else "".
std::string tfq_reference_answer(std::string_view response);
// eval_MCQ.py: the last <answer>...</answer> content, stripped (the whole
// content: "(C) money" is not "C"); else the first "Answer:" + optional
// whitespace + one ASCII letter; else "". No standalone-letter fallback.
std::string mcq_reference_answer(std::string_view response);
// Both scripts: correct when the extracted answer is non-empty and equal
// to the ground truth after lower-casing (no stripping of the truth).
bool reference_answers_equal(std::string_view extracted, std::string_view truth);

// The answer part of a free-form response (open questions, short VQA
// answers): the last <answer>...</answer> content when there is one, else
// the response with every <think>...</think> block (and a dangling
// <think>... without its end) removed; stripped.
std::string final_answer_text(std::string_view response);

// Normalisation for exact-match short answers (VQA style): lower-case;
// number words zero..twenty become digits; "center" becomes "centre" (the
// world's spelling); punctuation becomes space, except a '.' or ',' inside a
// number; the articles a, an, the are dropped; whitespace collapses.
//   "The Two." -> "2", "  a Red sun! " -> "red sun", "3.5" -> "3.5"
std::string normalize_short_answer(std::string_view text);

}  // namespace mstar::data
