// The answer check of the reference's TFQ reward: TFQ-GRPO_reward.py
// (train/examples/reward_function/) calls mathruler's grade_answer
// (mathruler 0.1.0, grader.py and math_normalize.py, themselves taken from
// OpenAI's PRM800K grader). It normalises both strings twice and compares:
//
//   1. the MATH ("mathd") normalisation, case-sensitive: strip; an enclosing
//      \text{...} dropped; newlines, "\!", "\left", "\right", "^{\circ}",
//      "^\circ", "\$", "\%", "%" removed; "k = X" with a left side of at
//      most two characters becomes "X"; spaces removed.
//   2. grader.py's _normalize, case-insensitive: an enclosing \text{...}
//      dropped; "$" and "%" removed; " or " and " and " become commas;
//      unit words (degree, cm, second, day, year, ...) removed wherever they
//      occur; one enclosing {...} dropped; LaTeX turned into text; spaces and
//      braces removed; lower-cased; integral numbers written as integers.
//   3. a tuple check: "(X)" or "[X]" holds one element X, compared to the
//      truth's element by sympy.
//
// So for the truth "T": "t", "{T}", "$T$", "\text{T}", "\textbf{T}",
// "\boxed{T}", "(T)", "[T]", "x = T", "T%", "T degrees" are correct;
// "T.", "True", "**T**", "'T'", "T or F", "\mathbf{T}" (a Unicode bold
// letter there) are not.
//
// Exact for a truth that is one letter (T, F, A-F: every TFQ and MCQ row).
// Not reproduced, with the cases where the verdict differs:
// - sympy beyond identity: the reference also accepts expressions equal to
//   the letter ("1T", "T*1", "T+0", "2T/2"); here only the identical element.
// - pylatexenc's tables: here the formatting commands that keep their
//   argument (\text, \textbf, \textit, \emph, \boxed, \mathrm, ... listed in
//   grade.cpp) are dropped and spacing commands become spaces; any other
//   command makes the answer wrong (the reference drops unknown commands,
//   "\foo{T}" -> "T", and turns known symbols into characters).
// - for truths that are not one letter, the fraction and root rewrites
//   (\frac12 -> \frac{1}{2}, 1/2, \sqrt2) and sympy's numeric equality
//   ("0.5" = "1/2").
#pragma once

#include <string>
#include <string_view>

namespace mstar::data {

// grade_answer(given, truth) as described above. As there, "" matches only "".
bool grade_answer(std::string_view given, std::string_view truth);

// The two normalisations, exposed for tests.
std::string mathd_normalize(std::string_view answer);
std::string grader_normalize(std::string_view answer);

}  // namespace mstar::data
