// judge/openai: an OpenAI-compatible chat-completions endpoint (OpenAI,
// vLLM, SGLang, Ollama, a proxy) scores each answer with the OSQ rubric
// prompt and replies "[N points]"; the score is read from the reply as
// evaluation/eval_OSQ.py reads it (score_parse). Requests run `concurrency` at a time;
// transport errors, 408, 429 and 5xx are retried with exponential backoff;
// whatever still fails is recorded for that item and never stops the run.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include "mstar/artifact.h"
#include "mstar/data/image.h"
#include "mstar/data/regex.h"
#include "mstar/judge.h"
#include "mstar/plugin.h"

namespace mstar::judges {

namespace {

// Our wording of the paper's OSQ rubric (eval_OSQ.py): the same role, the
// same five levels and the same reply format. Pass the paper's exact text
// as `prompt` (or benchmark/osq's judge_prompt_file) to reproduce its
// numbers; {reference} and {answer} are filled.
constexpr const char* kDefaultPrompt = R"(# Role
You are an impartial judge who knows internet culture, memes and visual metaphor, and who is good at uncovering the deeper meaning of an image.

## Task
Rate the model's answer about the implication of the image. Compare it with the human reference answer and with the image, and score it by the standard below.

## Standard
- [1 point]: Misses the important elements of the image (text, key entities); names no emotion, domain or rhetorical device; stays on the surface, with a large gap to the reference.
- [2 points]: Captures some important elements, but the emotion, domain and rhetorical devices are vague; the surface description is fairly complete, but the deeper metaphor is clearly missing; a noticeable gap to the reference.
- [3 points]: Captures the important elements fairly well and begins to name the emotion, domain and rhetorical devices; the surface description is accurate and partly related to the metaphor; depth and creativity could improve; overall close to the reference.
- [4 points]: Captures the important elements accurately and clearly names the emotion, domain and rhetorical devices; detailed surface description and a fairly deep reading of the metaphor, with some creativity; consistent with the reference, short of it only in some details or depth.
- [5 points]: Captures the important elements precisely and names the emotion, domain and rhetorical devices with insight; a complete surface description and a distinctive reading of the metaphor that joins the image's elements to its mood; highly consistent with the reference, showing a deep grasp of metaphor and culture.

## Reference answer
human answer: {reference}

## Rules
- Be objective and avoid position bias.
- Do not let the length of the answer influence the score.
- Reply with the rating only, exactly in the form "[N points]".

## Example
Input: model answer
Output: [x points]

## Answer to rate
model answer: {answer}
)";

struct Endpoint {
  std::string base;  // scheme://host[:port]
  std::string path;  // /v1/chat/completions
};

// "http://host:port/v1/chat/completions"; a URL ending in /v1 (an SDK-style
// base URL) gets /chat/completions appended.
Endpoint parse_url(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0))
    throw_bad_input("judge/openai: url must start with http:// or https://, got '" + url + "'");
  const size_t slash = url.find('/', scheme + 3);
  Endpoint e{url.substr(0, slash), slash == std::string::npos ? "/" : url.substr(slash)};
  while (e.path.size() > 1 && e.path.back() == '/') e.path.pop_back();
  if (e.path == "/" || e.path.ends_with("/v1")) e.path = (e.path == "/" ? "" : e.path) + "/chat/completions";
  return e;
}

std::string excerpt(const std::string& s, size_t n = 200) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

// The reply's text: choices[0].message.content, a string or a list of parts.
std::optional<std::string> reply_text(const Json& body) {
  if (!body.is_object() || !body.contains("choices") || !body["choices"].is_array() || body["choices"].empty())
    return std::nullopt;
  const Json& message = body["choices"][0].value("message", Json());
  if (!message.is_object() || !message.contains("content")) return std::nullopt;
  const Json& content = message["content"];
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return std::nullopt;
  std::string text;
  for (const Json& part : content)
    if (part.is_object() && part.value("type", "") == "text") text += part.value("text", "");
  return text;
}

// The prompt with the reference and the answer in it. Named slots
// {reference} and {answer}, filled in one pass (a "{answer}" inside the
// reference stays as it is); or, in a prompt without {answer}, Python
// str.format's positional slots as in eval_OSQ.py's prompt_OSQ: the first {}
// is the reference (the human answer), the second the model's answer, {{ and
// }} are braces. nullopt with `error` set when the prompt fits neither.
std::optional<std::string> fill_prompt(const std::string& prompt, const std::string& reference,
                                       const std::string& answer, std::string& error) {
  std::string text;
  if (prompt.find("{answer}") != std::string::npos) {
    for (size_t at = 0; at < prompt.size();) {
      if (prompt.compare(at, 11, "{reference}") == 0) {
        text += reference;
        at += 11;
      } else if (prompt.compare(at, 8, "{answer}") == 0) {
        text += answer;
        at += 8;
      } else {
        text += prompt[at++];
      }
    }
    return text;
  }
  constexpr const char* kNeeds =
      "it needs {answer} (and {reference}), or exactly two {} as eval_OSQ.py's prompt_OSQ (the human answer, then "
      "the model's answer)";
  size_t slot = 0;
  for (size_t at = 0; at < prompt.size();) {
    const std::string_view two = std::string_view(prompt).substr(at, 2);
    if (two == "{{" || two == "}}") {
      text += prompt[at];
      at += 2;
    } else if (two == "{}" && slot < 2) {
      text += slot++ == 0 ? reference : answer;
      at += 2;
    } else if (prompt[at] == '{' || prompt[at] == '}') {
      error = std::string(kNeeds) + "; at offset " + std::to_string(at) +
              (two == "{}" ? " a third {}" : " a lone '" + std::string(1, prompt[at]) + "' (a brace is {{ or }})");
      return std::nullopt;
    } else {
      text += prompt[at++];
    }
  }
  if (slot != 2) {
    error = kNeeds;
    return std::nullopt;
  }
  return text;
}

struct Attempt {
  bool retry = false;  // worth another try
  JudgeResult result;
};

}  // namespace

class OpenAiJudge : public Judge {
 public:
  using Interface = Judge;
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "judge";
    i.name = "openai";
    i.version = "1";
    i.description =
        "OSQ judge through any OpenAI-compatible chat-completions endpoint: sends the rubric prompt (with the "
        "reference and the model's answer) and the image, and reads the score from the reply (score_parse: "
        "the first integer, as eval_OSQ.py, or '[N points]' in 1-5). Up to "
        "`concurrency` requests at once; transport errors, HTTP 408, 429 and 5xx are retried `retries` times "
        "with exponential backoff; other failures, and replies without a score, are recorded for the item.";
    i.params = ParamSchema{
        ParamSpec::string("url")
            .def("https://api.openai.com/v1/chat/completions")
            .describe("chat-completions endpoint; a URL ending in /v1 gets /chat/completions appended"),
        ParamSpec::string("model").def("gpt-4o-2024-11-20").describe("model name (the paper's judge by default)"),
        ParamSpec::string("api_key_env")
            .def("OPENAI_API_KEY")
            .describe("environment variable holding the API key (sent as a Bearer token); \"\" = no key"),
        ParamSpec::real("temperature").def(0.0).range(0.0, 2.0).describe("the paper's: 0"),
        ParamSpec::real("top_p").def(0.9).range(0.0, 1.0).describe("the paper's: 0.9"),
        ParamSpec::integer("max_tokens").def(0).range(0, 1 << 20).describe("reply length cap; 0 = not sent"),
        ParamSpec::real("timeout_s").def(60.0).range(0.1, 3600.0).describe("per request: connect, send and read"),
        ParamSpec::integer("retries").def(3).range(0, 100).describe("extra attempts after a retryable failure"),
        ParamSpec::real("backoff_s")
            .def(1.0)
            .range(0.0, 600.0)
            .describe("wait before retry k: backoff_s * 2^(k-1), at most 60 s (or the server's Retry-After)"),
        ParamSpec::integer("concurrency").def(4).range(1, 256).describe("requests in flight at most"),
        ParamSpec::boolean("send_image").def(true).describe("attach the image (as a data: URI)"),
        ParamSpec::enumeration("image_detail", {"high", "low", "auto"}).def("high").describe("image_url detail"),
        ParamSpec::string("prompt")
            .def(kDefaultPrompt)
            .describe("rubric prompt; {reference} and {answer} are replaced, or, without {answer}, two {} "
                      "(reference, then answer) as eval_OSQ.py's prompt_OSQ"),
        ParamSpec::enumeration("score_parse", {"first_integer", "points"})
            .def("first_integer")
            .describe("first_integer: the first run of digits in the reply, whatever its value (eval_OSQ.py's "
                      "calculate_average_score, re.search(r'\\d+')); points: '[N points]' with N in 1-5. A reply "
                      "without one has no score (benchmark/osq's unscored decides what it counts)"),
    };
    i.examples = {
        "judge: {plugin: judge/openai, url: \"http://localhost:8000/v1\", model: Qwen2.5-VL-72B-Instruct, "
        "api_key_env: \"\", concurrency: 8}"};
    return i;
  }

  OpenAiJudge(const Params& p, ComponentHost&)
      : endpoint_(parse_url(p.get_string("url"))),
        model_(p.get_string("model")),
        temperature_(p.get_float("temperature")),
        top_p_(p.get_float("top_p")),
        max_tokens_(p.get_int("max_tokens")),
        timeout_s_(p.get_float("timeout_s")),
        retries_(static_cast<int>(p.get_int("retries"))),
        backoff_s_(p.get_float("backoff_s")),
        concurrency_(static_cast<size_t>(p.get_int("concurrency"))),
        send_image_(p.get_bool("send_image")),
        image_detail_(p.get_string("image_detail")),
        prompt_(p.get_string("prompt")),
        first_integer_(p.get_string("score_parse") == "first_integer") {
    std::string error;
    if (!fill_prompt(prompt_, "", "", error)) throw_bad_input("judge/openai: prompt: " + error);
    const std::string env = p.get_string("api_key_env");
    if (!env.empty()) {
      const char* key = std::getenv(env.c_str());
      if (!key || !*key) throw_bad_input("judge/openai: environment variable " + env + " (api_key_env) is not set");
      api_key_ = key;
    }
  }

  JudgeResult judge(const Json& item) const override {
    try {
      return request_score(item);
    } catch (const std::exception& e) {  // an unreadable image, a field of the wrong type, a reply of odd shape
      JudgeResult r;
      r.error = std::string("judge/openai: ") + e.what();
      return r;
    }
  }

  std::vector<JudgeResult> judge_all(const std::vector<Json>& items) const override {
    std::vector<JudgeResult> out(items.size());
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < items.size(); i = next++) out[i] = judge(items[i]);
    };
    std::vector<std::thread> pool;
    const size_t n = std::min(concurrency_, items.size());
    for (size_t t = 1; t < n; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    return out;
  }

 private:
  // One item: the request, its retries with backoff, the last outcome.
  JudgeResult request_score(const Json& item) const {
    const std::string body = build_request(item).dump(-1, ' ', false, Json::error_handler_t::replace);
    Attempt last;
    for (int attempt = 0;; ++attempt) {
      double retry_after = -1;
      last = post(body, retry_after);
      if (!last.retry || attempt >= retries_) break;
      double wait = std::min(60.0, backoff_s_ * static_cast<double>(1LL << std::min(attempt, 20)));
      if (retry_after >= 0) wait = std::min(60.0, retry_after);
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    if (!last.result.ok && last.retry) last.result.error += " (after " + std::to_string(retries_ + 1) + " attempts)";
    return last.result;
  }

  Json build_request(const Json& item) const {
    std::string error;
    const std::string text = fill_prompt(prompt_, item.value("answer", ""), item.value("response", ""), error).value();
    Json content = Json::array({{{"type", "text"}, {"text", text}}});
    const std::string image = item.value("image", "");
    if (send_image_ && !image.empty()) {
      std::string uri = image;
      if (!data::is_data_uri(image)) {
        const std::string bytes = read_file(image);  // throws naming the file
        const std::string ext = data::image_extension(bytes);
        uri = data::make_data_uri(ext == ".jpg" ? "image/jpeg" : "image/png", bytes);
      }
      content.push_back({{"type", "image_url"}, {"image_url", {{"url", uri}, {"detail", image_detail_}}}});
    }
    Json request{{"model", model_},
                 {"messages", Json::array({{{"role", "user"}, {"content", content}}})},
                 {"temperature", temperature_},
                 {"top_p", top_p_}};
    if (max_tokens_ > 0) request["max_tokens"] = max_tokens_;
    return request;
  }

  Attempt post(const std::string& body, double& retry_after) const {
    Attempt a;
    httplib::Client client(endpoint_.base);
    const auto timeout =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::duration<double>(timeout_s_));
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    client.set_write_timeout(timeout);
    httplib::Headers headers;
    if (!api_key_.empty()) headers.emplace("Authorization", "Bearer " + api_key_);
    auto res = client.Post(endpoint_.path, headers, body, "application/json");
    if (!res) {
      a.retry = true;
      a.result.error =
          "judge/openai: request to " + endpoint_.base + endpoint_.path + " failed: " + httplib::to_string(res.error());
      return a;
    }
    if (res->status != 200) {
      a.retry = res->status == 408 || res->status == 429 || res->status >= 500;
      if (res->has_header("Retry-After")) {
        try {
          retry_after = std::stod(res->get_header_value("Retry-After"));
        } catch (const std::exception&) {
          retry_after = -1;
        }
      }
      a.result.error = "judge/openai: HTTP " + std::to_string(res->status) + ": " + excerpt(res->body);
      return a;
    }
    Json reply;
    try {
      reply = Json::parse(res->body);
    } catch (const Json::exception&) {
      a.result.error = "judge/openai: reply is not JSON: " + excerpt(res->body);
      return a;
    }
    const auto text = reply_text(reply);
    if (!text) {
      a.result.error = "judge/openai: reply has no choices[0].message.content: " + excerpt(res->body);
      return a;
    }
    a.result.raw = *text;
    if (first_integer_) {
      static const data::Regex digits("[0-9]+");
      const auto score = digits.search(*text);
      if (!score) {
        a.result.error = "judge/openai: no number in the reply: " + excerpt(*text);
        return a;
      }
      a.result.ok = true;
      a.result.score = std::stod(*score);
      return a;
    }
    static const data::Regex points(R"(\[\s*(\d+(?:\.\d+)?)\s*points?\s*\])", data::Regex::kCaseless);
    const auto score = points.search(*text, 1);
    if (!score) {
      a.result.error = "judge/openai: no '[N points]' in the reply: " + excerpt(*text);
      return a;
    }
    const double value = std::stod(*score);
    if (value < 1 || value > 5) {
      a.result.error = "judge/openai: score " + *score + " is outside 1-5";
      return a;
    }
    a.result.ok = true;
    a.result.score = value;
    return a;
  }

  Endpoint endpoint_;
  std::string model_;
  double temperature_, top_p_;
  int64_t max_tokens_;
  double timeout_s_;
  int retries_;
  double backoff_s_;
  size_t concurrency_;
  bool send_image_;
  std::string image_detail_;
  std::string prompt_;
  bool first_integer_;
  std::string api_key_;
};
MSTAR_COMPONENT(OpenAiJudge)

}  // namespace mstar::judges
