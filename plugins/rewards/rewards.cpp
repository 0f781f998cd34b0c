// reward/* components: the TFQ reward of the reference (format + accuracy),
// MCQ letters, DAPO's soft overlong penalty, and weighted combinations.
#include <cmath>
#include <sstream>

#include "mstar/data/answers.h"
#include "mstar/data/grade.h"
#include "mstar/data/regex.h"
#include "mstar/plugin.h"
#include "mstar/reward.h"

namespace {

using mstar::ComponentHost;
using mstar::Json;
using mstar::Params;
using mstar::ParamSpec;
using mstar::PluginInfo;
using mstar::RewardFunction;
using mstar::RewardResult;

PluginInfo reward_info(const char* name, const char* description) {
  PluginInfo i;
  i.kind = "reward";
  i.name = name;
  i.version = "1.0.0";
  i.description = description;
  return i;
}

std::string truth_of(const Json& sample) {
  return sample.contains("answer") && sample["answer"].is_string() ? sample["answer"].get<std::string>() : "";
}

// overall = (1 - w) * accuracy + w * format: the reference's weighting
// (the paper's text adds them; its code mixes them, and we follow the code).
// Accuracy follows accuracy_reward of TFQ-GRPO_reward.py: the first
// <answer> content, or without one the whole response, checked against the
// truth by mathruler's grade_answer (mstar/data/grade.h).
class TfqReward : public RewardFunction {
 public:
  using Interface = RewardFunction;
  static PluginInfo info() {
    PluginInfo i = reward_info("tfq", "TFQ reward: (1-w)*accuracy + w*format, as MetaphorStar's EasyR1 fork "
                                      "(train/examples/reward_function/TFQ-GRPO_reward.py).");
    i.params.add(ParamSpec::real("format_weight").def(0.5).range(0, 1).describe("w: weight of the format term"))
        .add(ParamSpec::boolean("strict").def(false).describe(
            "one think and one answer block, non-empty think, and accuracy only with a valid format "
            "(the fix for format-reward hacking)"))
        .add(ParamSpec::enumeration("no_answer_tag", {"whole", "zero"}).def("whole").describe(
            "a response without <answer>...</answer> on one line: whole = grade the whole stripped response "
            "(the reference), zero = accuracy 0"));
    i.examples = {"reward: {plugin: reward/tfq, format_weight: 0.5, strict: false, no_answer_tag: whole}"};
    return i;
  }
  TfqReward(const Params& p, ComponentHost&)
      : weight_(p.get_float("format_weight")),
        strict_(p.get_bool("strict")),
        grade_untagged_(p.get_string("no_answer_tag") == "whole") {}

  RewardResult score(std::string_view response, const Json& sample) const override {
    const bool format = strict_ ? mstar::data::tfq_strict_format_ok(response) : mstar::data::tfq_format_ok(response);
    const std::optional<std::string> tag = mstar::data::tfq_reward_tag(response);
    bool correct = false;
    if (tag || grade_untagged_)
      correct = mstar::data::grade_answer(tag ? *tag : mstar::data::strip(response), mstar::data::strip(truth_of(sample)));
    if (strict_ && !format) correct = false;
    const double acc = correct ? 1.0 : 0.0, fmt = format ? 1.0 : 0.0;
    return {(1 - weight_) * acc + weight_ * fmt, {{"accuracy", acc}, {"format", fmt}}};
  }

 private:
  double weight_;
  bool strict_;
  bool grade_untagged_;
};
MSTAR_COMPONENT(TfqReward)

class McqReward : public RewardFunction {
 public:
  using Interface = RewardFunction;
  static PluginInfo info() {
    PluginInfo i = reward_info("mcq", "MCQ reward: (1-w)*[letter A-F correct] + w*format.");
    i.params.add(ParamSpec::real("format_weight").def(0.5).range(0, 1).describe("weight of the format term"));
    return i;
  }
  McqReward(const Params& p, ComponentHost&) : weight_(p.get_float("format_weight")) {}
  RewardResult score(std::string_view response, const Json& sample) const override {
    const double fmt = mstar::data::tfq_format_ok(response) ? 1.0 : 0.0;
    const double acc = mstar::data::answers_equal(mstar::data::mcq_eval_answer(response), truth_of(sample)) ? 1.0 : 0.0;
    return {(1 - weight_) * acc + weight_ * fmt, {{"accuracy", acc}, {"format", fmt}}};
  }

 private:
  double weight_;
};
MSTAR_COMPONENT(McqReward)

// DAPO's soft overlong punishment. Length in response tokens when the
// algorithm passes them (sample["response_tokens"]), else whitespace words.
class LengthReward : public RewardFunction {
 public:
  using Interface = RewardFunction;
  static PluginInfo info() {
    PluginInfo i = reward_info("length", "DAPO soft overlong penalty: 0 up to max_length - buffer, then linear "
                                         "down to -1 at max_length, -1 beyond.");
    i.params.add(ParamSpec::integer("max_length").def(64).range(1, 1 << 20).describe("L_max, in tokens"))
        .add(ParamSpec::integer("buffer").def(16).range(1, 1 << 20).describe("L_cache: the soft zone"));
    return i;
  }
  LengthReward(const Params& p, ComponentHost&)
      : max_(static_cast<double>(p.get_int("max_length"))), buffer_(static_cast<double>(p.get_int("buffer"))) {}
  RewardResult score(std::string_view response, const Json& sample) const override {
    double len = 0;
    if (sample.contains("response_tokens") && sample["response_tokens"].is_number()) {
      len = sample["response_tokens"].get<double>();
    } else {
      std::istringstream in{std::string(response)};
      for (std::string w; in >> w;) ++len;
    }
    double r = 0;
    if (len > max_) r = -1;
    else if (len > max_ - buffer_) r = ((max_ - buffer_) - len) / buffer_;
    return {r, {{"length_penalty", r}}};
  }

 private:
  double max_, buffer_;
};
MSTAR_COMPONENT(LengthReward)

// Weighted sum of other rewards (TRL's reward_weights); every component's
// parts are reported under its plugin name.
class CombinedReward : public RewardFunction {
 public:
  using Interface = RewardFunction;
  static PluginInfo info() {
    PluginInfo i = reward_info("combine", "Weighted sum of reward plugins; each part is logged separately.");
    i.params.add(ParamSpec::list("components").require().describe(
        "list of {plugin: reward/NAME, weight: W, ...params of that plugin}"));
    i.examples = {"reward:\n  plugin: reward/combine\n  components:\n    - {plugin: reward/tfq, weight: 1.0}\n"
                  "    - {plugin: reward/length, weight: 0.2, max_length: 48}"};
    return i;
  }
  CombinedReward(const Params& p, ComponentHost& host) {
    for (const Json& c : p.get("components")) {
      if (!c.is_object() || !c.contains("plugin"))
        mstar::throw_bad_input("reward/combine: each component needs {plugin: reward/NAME, weight: W}, got " + c.dump());
      Json spec = c;
      const double w = spec.value("weight", 1.0);
      spec.erase("weight");
      std::string name = spec["plugin"].get<std::string>();
      name = name.substr(name.find('/') + 1);
      parts_.push_back({name, w, mstar::make_component<RewardFunction>(host, spec)});
    }
    if (parts_.empty()) mstar::throw_bad_input("reward/combine: components is empty");
  }
  RewardResult score(std::string_view response, const Json& sample) const override {
    RewardResult out;
    for (const auto& part : parts_) {
      RewardResult r = part.fn->score(response, sample);
      out.overall += part.weight * r.overall;
      out.components[part.name] = r.overall;
      for (const auto& [k, v] : r.components) out.components[part.name + "." + k] = v;
    }
    return out;
  }

 private:
  struct Part {
    std::string name;
    double weight;
    std::shared_ptr<RewardFunction> fn;
  };
  std::vector<Part> parts_;
};
MSTAR_COMPONENT(CombinedReward)

}  // namespace
