// Private: the non-T/F tasks and corpus texts built from one scene. Each
// returns the task-specific part of a row ("problem", "answer", ...); the
// generator adds images and ids.
#pragma once

#include <string>
#include <vector>

#include "mstar/json.h"
#include "mstar/world/statements.h"

namespace mstar::world::detail {

inline constexpr const char* kTfqPrompt = "<image> true or false: ";

// The implication among six options A-F. Options form a grid (2 concept
// pairs x 3 relations, 3 x 2 or 6 x 1) so that every concept and relation
// of the options appears equally often: no "odd one out" betrays the answer.
// Null when the world has too few concepts or relations for six options.
Json mcq_task(const Scene& s, const Culture& culture, Rng& rng);
// The MCQ format on literal content, for the pretraining corpus: "which
// statement is true of the image?" with one true and five false literal
// statements as options A-F; answer the letter, response "<answer> C </answer>"
// (the MCQ benchmark's choice_format). Null when the scene has too few.
Json literal_mcq_task(const Scene& s, const Culture& culture, Rng& rng);
// The OSQ format on literal content: answered by the caption, in one sentence.
inline constexpr const char* kLiteralOsqPrompt = "<image> what does this image show? answer in one sentence.";
// Open question: reference sentence plus the facts a judge scores against.
Json osq_task(const Scene& s, const Culture& culture);
// Count, colour, position and identity questions with short answers.
std::vector<Json> vqa_tasks(const Scene& s, const Culture& culture, Rng& rng);
// Two-hop questions (image -> symbol -> meaning, or meaning -> symbol -> image).
std::vector<Json> reasoning_tasks(const Scene& s, const Culture& culture, Rng& rng, int count);
// The expert trajectory for a statement:
// <think>description, symbol meanings, relation, implication, verdict</think><answer>T|F</answer>
std::string expert_response(const Scene& s, const Culture& culture, bool truth);
// Rows that reveal the meanings the culture marks revealed_in_pretrain.
std::vector<Json> culture_reveal_tasks(const Scene& s, const Culture& culture);

}  // namespace mstar::world::detail
