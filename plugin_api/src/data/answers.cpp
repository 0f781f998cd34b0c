#include "mstar/data/answers.h"

#include <cctype>
#include <cstring>
#include <map>

#include "mstar/data/regex.h"

namespace mstar::data {

namespace {

// Compiled once per process; patterns are constants.
const Regex& re(const char* pattern, unsigned flags) {
  thread_local std::map<std::pair<std::string, unsigned>, Regex> cache;
  auto key = std::make_pair(std::string(pattern), flags);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, Regex(pattern, flags)).first;
  return it->second;
}

std::string last(const std::vector<std::string>& v) { return v.empty() ? std::string() : v.back(); }

}  // namespace

bool tfq_format_ok(std::string_view response) {
  return re(R"(<think>.*?</think>.*?<answer>.*?</answer>)", Regex::kDotAll).full_match(response);
}

bool tfq_strict_format_ok(std::string_view response) {
  if (!tfq_format_ok(response)) return false;
  if (re("<think>", 0).count(response) != 1 || re("</think>", 0).count(response) != 1) return false;
  if (re("<answer>", 0).count(response) != 1 || re("</answer>", 0).count(response) != 1) return false;
  auto think = re(R"(<think>(.*?)</think>)", Regex::kDotAll).search(response, 1);
  return think && !strip(*think).empty();
}

std::optional<std::string> tfq_reward_tag(std::string_view response) {
  auto a = re(R"(<answer>(.*?)</answer>)", 0).search(response, 1);
  if (!a) return std::nullopt;
  return strip(*a);
}

std::string tfq_reward_answer(std::string_view response) { return tfq_reward_tag(response).value_or(""); }

bool answers_equal(std::string_view answer, std::string_view truth) {
  return !answer.empty() && lower(strip(answer)) == lower(strip(truth));
}

std::string tfq_eval_answer(std::string_view response) {
  std::string a = last(re(R"(<answer>(.*?)</answer>)", Regex::kDotAll).find_all(response, 1));
  if (!a.empty()) return strip(a);
  a = last(re(R"(Answer:\s*([TF])\b)", Regex::kCaseless).find_all(response, 1));
  if (!a.empty()) return strip(a);
  return strip(last(re(R"(\b([TF])\b)", 0).find_all(response, 1)));
}

std::string mcq_eval_answer(std::string_view response) {
  std::string a = last(re(R"(<answer>(.*?)</answer>)", Regex::kDotAll).find_all(response, 1));
  if (!a.empty()) {
    auto letter = re(R"(([A-F]))", 0).search(a, 1);
    return letter ? *letter : strip(a);
  }
  a = last(re(R"(Answer:\s*\(?([A-F])\b)", Regex::kCaseless).find_all(response, 1));
  if (!a.empty()) return a;
  return last(re(R"(\b([A-F])\b)", 0).find_all(response, 1));
}

}  // namespace mstar::data

namespace mstar::data {

std::string tfq_reference_answer(std::string_view response) {
  const auto tags = re(R"(<answer>(.*?)</answer>)", Regex::kDotAll).find_all(response, 1);
  if (!tags.empty()) return strip(tags.back());
  if (auto a = re(R"(Answer:\s*([TF]))", Regex::kUnicode).search(response, 1)) return *a;
  return strip(last(re(R"(\b(T|F)\b)", Regex::kUnicode).find_all(response, 1)));
}

std::string mcq_reference_answer(std::string_view response) {
  const auto tags = re(R"(<answer>(.*?)</answer>)", Regex::kDotAll).find_all(response, 1);
  if (!tags.empty()) return strip(tags.back());
  if (auto a = re(R"(Answer:\s*([A-Za-z]))", Regex::kUnicode).search(response, 1)) return *a;
  return "";
}

bool reference_answers_equal(std::string_view extracted, std::string_view truth) {
  return !extracted.empty() && lower(extracted) == lower(truth);
}

std::string final_answer_text(std::string_view response) {
  const auto tags = re(R"(<answer>(.*?)</answer>)", Regex::kDotAll).find_all(response, 1);
  if (!tags.empty()) return strip(tags.back());
  std::string rest(response);
  for (;;) {
    const size_t open = rest.find("<think>");
    if (open == std::string::npos) break;
    const size_t close = rest.find("</think>", open);
    rest.erase(open, close == std::string::npos ? std::string::npos : close + 8 - open);
  }
  // A stray end tag (the think block opened in the prompt) ends the thinking.
  if (const size_t close = rest.rfind("</think>"); close != std::string::npos) rest.erase(0, close + 8);
  for (const char* tag : {"<answer>", "</answer>"})
    for (size_t at = rest.find(tag); at != std::string::npos; at = rest.find(tag)) rest.erase(at, std::strlen(tag));
  return strip(rest);
}

std::string normalize_short_answer(std::string_view text) {
  static const std::map<std::string, std::string> kWords = {
      {"zero", "0"},     {"one", "1"},       {"two", "2"},       {"three", "3"},    {"four", "4"},
      {"five", "5"},     {"six", "6"},       {"seven", "7"},     {"eight", "8"},    {"nine", "9"},
      {"ten", "10"},     {"eleven", "11"},   {"twelve", "12"},   {"thirteen", "13"}, {"fourteen", "14"},
      {"fifteen", "15"}, {"sixteen", "16"},  {"seventeen", "17"}, {"eighteen", "18"}, {"nineteen", "19"},
      {"twenty", "20"},  {"center", "centre"}};
  const std::string s = lower(text);
  std::string spaced;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool inside_number = (c == '.' || c == ',') && i > 0 && i + 1 < s.size() &&
                               std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
                               std::isdigit(static_cast<unsigned char>(s[i + 1]));
    spaced += (std::ispunct(c) && !inside_number) ? ' ' : static_cast<char>(c);
  }
  std::string out;
  size_t at = 0;
  while (at < spaced.size()) {
    const size_t b = spaced.find_first_not_of(" \t\r\n\f\v", at);
    if (b == std::string::npos) break;
    size_t e = spaced.find_first_of(" \t\r\n\f\v", b);
    if (e == std::string::npos) e = spaced.size();
    std::string word = spaced.substr(b, e - b);
    at = e;
    if (word == "a" || word == "an" || word == "the") continue;
    if (auto it = kWords.find(word); it != kWords.end()) word = it->second;
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

}  // namespace mstar::data
