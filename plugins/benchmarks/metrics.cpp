#include "metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

namespace mstar::bench {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

double fraction(size_t part, size_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

std::vector<Prediction> select(const std::vector<Prediction>& all, const std::function<bool(const Prediction&)>& keep) {
  std::vector<Prediction> out;
  for (const auto& p : all)
    if (keep(p)) out.push_back(p);
  return out;
}

// The means over sample sets of every SetMetrics field, under `scope`.
void add_scope(std::map<std::string, double>& out, const std::string& scope,
               const std::vector<std::vector<Prediction>>& sets, const std::vector<Prediction>& voted,
               AnswerKind kind) {
  if (sets.empty() || sets.front().empty()) return;
  const double k = static_cast<double>(sets.size());
  double acc = 0, balanced = 0, baseline = 0, group = 0, empty = 0, invalid = 0, bias = 0;
  size_t bias_sets = 0;
  for (const auto& set : sets) {
    const SetMetrics m = set_metrics(set, kind);
    acc += m.accuracy;
    balanced += m.balanced_accuracy;
    baseline += m.majority_baseline;
    group += m.group_accuracy;
    empty += m.empty_answers;
    invalid += m.invalid_answers;
    if (m.answer_bias) {
      bias += *m.answer_bias;
      ++bias_sets;
    }
  }
  out[metric_name(scope, metric::kRows)] = static_cast<double>(sets.front().size());
  out[metric_name(scope, metric::kAccuracy)] = acc / k;
  out[metric_name(scope, metric::kMajorityBaseline)] = baseline / k;
  out[metric_name(scope, metric::kGroupAccuracy)] = group / k;
  out[metric_name(scope, metric::kEmptyAnswers)] = empty / k;
  if (kind != AnswerKind::Free) out[metric_name(scope, metric::kBalancedAccuracy)] = balanced / k;
  if (kind == AnswerKind::TrueFalse) {
    out[metric_name(scope, metric::kInvalidAnswers)] = invalid / k;
    if (bias_sets > 0) out[metric_name(scope, metric::kAnswerBias)] = bias / static_cast<double>(bias_sets);
  }
  if (sets.size() > 1) {
    const SetMetrics m = set_metrics(voted, kind);
    out[metric_name(scope, metric::kMajorityAccuracy)] = m.accuracy;
    if (kind != AnswerKind::Free) out[metric_name(scope, metric::kMajorityBalancedAccuracy)] = m.balanced_accuracy;
  }
}

}  // namespace

std::string metric_name(std::string_view scope, std::string_view name) {
  if (scope.empty()) return std::string(name);
  return std::string(scope) + "." + std::string(name);
}

SetMetrics set_metrics(const std::vector<Prediction>& predictions, AnswerKind kind) {
  SetMetrics m;
  m.n = predictions.size();
  if (predictions.empty()) return m;
  size_t correct = 0, empty = 0, invalid = 0, said_t = 0, said_tf = 0;
  std::map<std::string, std::pair<size_t, size_t>> classes;  // truth -> (correct, rows)
  std::map<std::string, bool> groups;                        // group -> all correct so far
  size_t ungrouped = 0, ungrouped_right = 0;
  for (const auto& p : predictions) {
    correct += p.correct;
    auto& cls = classes[lower(p.truth)];
    cls.first += p.correct;
    cls.second += 1;
    if (p.group.empty()) {
      ++ungrouped;
      ungrouped_right += p.correct;
    } else {
      auto [it, fresh] = groups.emplace(p.group, p.correct);
      if (!fresh) it->second = it->second && p.correct;
    }
    if (p.extracted.empty()) {
      ++empty;
      continue;
    }
    const std::string a = lower(p.extracted);
    if (a == "t" || a == "f") {
      ++said_tf;
      said_t += a == "t";
    } else {
      ++invalid;
    }
  }
  m.accuracy = fraction(correct, m.n);
  m.empty_answers = fraction(empty, m.n);
  double recall = 0;
  size_t most = 0;
  for (const auto& [truth, cr] : classes) {
    recall += fraction(cr.first, cr.second);
    most = std::max(most, cr.second);
  }
  m.balanced_accuracy = recall / static_cast<double>(classes.size());
  m.majority_baseline = fraction(most, m.n);
  size_t groups_right = ungrouped_right;
  for (const auto& [g, all] : groups) groups_right += all;
  m.group_accuracy = fraction(groups_right, groups.size() + ungrouped);
  if (kind == AnswerKind::TrueFalse) {
    m.invalid_answers = fraction(invalid, m.n);
    if (said_tf > 0) m.answer_bias = fraction(said_t, said_tf);
  }
  return m;
}

std::vector<Prediction> majority_vote(const std::vector<std::vector<Prediction>>& samples) {
  if (samples.empty()) return {};
  std::vector<Prediction> out = samples.front();
  for (size_t i = 0; i < out.size(); ++i) {
    std::map<std::string, size_t> votes;
    for (const auto& set : samples)
      if (!set[i].key.empty()) ++votes[set[i].key];
    size_t best = 0;
    for (const auto& set : samples) {  // first answer among the most voted
      const std::string& key = set[i].key;
      if (key.empty() || votes[key] <= best) continue;
      best = votes[key];
      out[i] = set[i];
    }
  }
  return out;
}

std::map<std::string, double> summarize(const std::vector<std::vector<Prediction>>& samples,
                                        const SummaryOptions& options) {
  std::map<std::string, double> out;
  if (samples.empty()) return out;
  const std::vector<Prediction> voted = majority_vote(samples);
  auto scope = [&](const std::string& name, const std::function<bool(const Prediction&)>& keep) {
    std::vector<std::vector<Prediction>> sets;
    for (const auto& set : samples) sets.push_back(keep ? select(set, keep) : set);
    add_scope(out, name, sets, keep ? select(voted, keep) : voted, options.kind);
  };
  scope("", nullptr);
  if (options.by_category) {
    std::vector<std::string> categories;
    for (const auto& p : samples.front())
      if (!p.category.empty() && std::find(categories.begin(), categories.end(), p.category) == categories.end())
        categories.push_back(p.category);
    for (const auto& c : categories) scope(c, [&](const Prediction& p) { return p.category == c; });
  }
  if (options.by_heldout) {
    const auto& rows = samples.front();
    if (std::any_of(rows.begin(), rows.end(), [](const Prediction& p) { return p.heldout; })) {
      scope(metric::kHeldout, [](const Prediction& p) { return p.heldout; });
      scope(metric::kSeen, [](const Prediction& p) { return !p.heldout; });
    }
  }
  return out;
}

std::map<std::string, double> summarize_judged(const std::vector<JudgedAnswer>& answers) {
  std::map<std::string, double> out;
  auto scope = [&](const std::string& name, const std::function<bool(const JudgedAnswer&)>& keep) {
    size_t judged = 0, failed = 0;
    double total = 0;
    size_t histogram[6] = {0, 0, 0, 0, 0, 0};
    std::map<std::string, std::pair<double, size_t>> dims;
    for (const auto& a : answers) {
      if (keep && !keep(a)) continue;
      if (!a.score) {
        ++failed;
        continue;
      }
      ++judged;
      total += *a.score;
      ++histogram[std::clamp(std::lround(*a.score), 0L, 5L)];
      for (const auto& [d, v] : a.dimensions) {
        dims[d].first += v;
        dims[d].second += 1;
      }
    }
    out[metric_name(name, metric::kJudged)] = static_cast<double>(judged);
    out[metric_name(name, metric::kJudgeFailures)] = static_cast<double>(failed);
    if (judged == 0) return;
    out[metric_name(name, metric::kMeanScore)] = total / static_cast<double>(judged);
    if (!name.empty()) return;
    for (int s = 0; s <= 5; ++s) out["score_" + std::to_string(s)] = fraction(histogram[s], judged);
    for (const auto& [d, sum_count] : dims)
      out["dimension." + d] = sum_count.first / static_cast<double>(sum_count.second);
  };
  scope("", nullptr);
  if (std::any_of(answers.begin(), answers.end(), [](const JudgedAnswer& a) { return a.heldout; })) {
    scope(metric::kHeldout, [](const JudgedAnswer& a) { return a.heldout; });
    scope(metric::kSeen, [](const JudgedAnswer& a) { return !a.heldout; });
  }
  return out;
}

}  // namespace mstar::bench
