// Building a backbone's vocabulary from a dataset artifact. Every family
// builds it the same way, so that two backbones made from one dataset see
// the same tokens at the same ids and a sweep over families compares models,
// not tokenizers.
//
//   std::vector<std::string> texts = dataset_texts(data->dir());
//   Tokenizer tok = build_vocabulary(texts, options);  // + builtin_words()
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mstar/ml/tokenizer.h"

namespace mstar::ml {

// Words every vocabulary holds whatever the data: the answer formats the
// rewards and benchmarks parse (T/F, A-E, digits, punctuation) and a little
// scaffolding, so that a model built without data can still be scored.
const std::vector<std::string>& builtin_words();

// The texts of a dataset artifact: the problem / response / answer fields
// (and the aliases prompt, question, solution, system) of every line of every
// *.jsonl below `dir`, files in path order, so that one dataset always gives
// the same ids. Throws Error(BadInput) naming file:line for a line that is
// not JSON, Error(Io) for an unreadable file.
std::vector<std::string> dataset_texts(const std::filesystem::path& dir);

// Tokenizer::build over `corpus` with builtin_words() added to
// options.always_include.
Tokenizer build_vocabulary(const std::vector<std::string>& corpus, VocabOptions options = {});

}  // namespace mstar::ml
