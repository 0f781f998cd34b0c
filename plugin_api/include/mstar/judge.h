// The judge interface (a component, see component.h): scores a free-form
// answer to an open question on the 1-5 scale of the paper's OSQ rubric.
// A benchmark names one in its params and builds it through its context:
//
//   auto judge = mstar::make_component<mstar::Judge>(ctx, ctx.params().get("judge"));
//   std::vector<mstar::JudgeResult> scores = judge->judge_all(items);
//
// A judge never throws for a problem with one item (a refused request, a
// reply without a score, an item without the facts it needs): it returns
// ok = false with the reason, and the benchmark counts a judge failure.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "mstar/json.h"

namespace mstar {

struct JudgeResult {
  bool ok = false;   // false: no score; `error` says why
  double score = 0;  // 1..5 when ok
  // Optional named parts in [0, 1] ("surface", "emotion", ...), averaged
  // by the benchmark into one summary each.
  std::map<std::string, double> dimensions;
  std::string error;  // why there is no score
  std::string raw;    // the judge's own output (a reply text, a rationale)
};

class Judge {
 public:
  static constexpr const char* kInterface = "judge";
  virtual ~Judge() = default;

  // `item` is the dataset row with the answer to judge added:
  //   "response"  the model's answer (the benchmark strips <think> blocks)
  //   "answer"    the reference answer          "problem"  the question
  //   "facts"     structured ground truth (synthetic world rows; optional)
  //   "image"     the image: a file path or a data: URI (optional)
  // Safe to call from several threads at once.
  virtual JudgeResult judge(const Json& item) const = 0;

  // Every item, results in item order. Judges that can overlap requests
  // (remote ones) override this to run up to their concurrency limit.
  virtual std::vector<JudgeResult> judge_all(const std::vector<Json>& items) const {
    std::vector<JudgeResult> out;
    out.reserve(items.size());
    for (const Json& item : items) out.push_back(judge(item));
    return out;
  }
};

}  // namespace mstar
