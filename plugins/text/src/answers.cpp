#include "mstar/text/answers.h"

#include <map>

#include "mstar/text/regex.h"

namespace mstar::text {

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

std::string tfq_reward_answer(std::string_view response) {
  auto a = re(R"(<answer>(.*?)</answer>)", 0).search(response, 1);
  return a ? strip(*a) : std::string();
}

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

}  // namespace mstar::text
