#include "mstar/ml/vocabulary.h"

#include <algorithm>
#include <fstream>

#include "mstar/error.h"
#include "mstar/json.h"

namespace mstar::ml {

namespace fs = std::filesystem;

const std::vector<std::string>& builtin_words() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> w = {"T", "F", "True", "False", "true", "false", "yes", "no", "A", "B", "C", "D", "E",
                                  "the", "a", "an", "is", "are", "not", "and", "or", "if", "then", "of", "in", "on",
                                  "image", "picture", "question", "answer", "statement", "option", "options",
                                  "Is", "this", "it", "what", "which", "does", "shows", "there"};
    for (char c = '0'; c <= '9'; ++c) w.emplace_back(1, c);
    for (const char* p : {".", ",", "?", "!", ":", ";", "(", ")", "-", "'", "\"", "/", "=", "+", "*"}) w.emplace_back(p);
    return w;
  }();
  return words;
}

std::vector<std::string> dataset_texts(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> texts;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) throw_io("cannot read " + f.string());
    std::string line;
    int64_t lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Json j;
      try {
        j = Json::parse(line);
      } catch (const Json::exception& e) {
        throw_bad_input(f.string() + ":" + std::to_string(lineno) + ": not valid JSON: " + e.what());
      }
      for (const char* key : {"problem", "response", "answer", "prompt", "question", "solution", "system"})
        if (j.contains(key) && j[key].is_string()) texts.push_back(j[key].get<std::string>());
    }
  }
  return texts;
}

Tokenizer build_vocabulary(const std::vector<std::string>& corpus, VocabOptions options) {
  const auto& words = builtin_words();
  options.always_include.insert(options.always_include.end(), words.begin(), words.end());
  return Tokenizer::build(corpus, options);
}

}  // namespace mstar::ml
