// Benchmark metrics: what a set of predictions scores, and the summary
// names under which the registry keeps them. No LibTorch here, so that the
// arithmetic is tested on hand-made predictions (tests/benchmarks_metrics_test.cpp).
//
// Every benchmark produces, per dataset row, n samples; `samples[k][i]` is
// sample k of row i. Metrics of n > 1 are means over the n sample sets, and
// a majority vote over the n answers gives the majority_* metrics.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mstar::bench {

// Summary names: one place, so that plots and reports agree with the code.
namespace metric {
inline constexpr const char* kRows = "rows";
inline constexpr const char* kAccuracy = "accuracy";
inline constexpr const char* kBalancedAccuracy = "balanced_accuracy";
inline constexpr const char* kMajorityBaseline = "majority_baseline";
inline constexpr const char* kAnswerBias = "answer_bias";
inline constexpr const char* kGroupAccuracy = "group_accuracy";
inline constexpr const char* kEmptyAnswers = "empty_answers";
inline constexpr const char* kInvalidAnswers = "invalid_answers";
inline constexpr const char* kMajorityAccuracy = "majority_accuracy";
inline constexpr const char* kMajorityBalancedAccuracy = "majority_balanced_accuracy";
inline constexpr const char* kChance = "chance";  // MCQ: mean of 1 / options
inline constexpr const char* kMeanScore = "mean_score";
inline constexpr const char* kJudged = "judged";
inline constexpr const char* kJudgeFailures = "judge_failures";
inline constexpr const char* kUnscored = "unscored";  // OSQ: judge replies without a score, counted as 0
// Scopes: rows of images with a held-out (glyph, relation) combination, and
// the others.
inline constexpr const char* kHeldout = "heldout";
inline constexpr const char* kSeen = "seen";
}  // namespace metric

// "accuracy" for the whole set, "literal.accuracy" for a scope.
std::string metric_name(std::string_view scope, std::string_view name);

// One answer to one row.
struct Prediction {
  std::string truth;      // ground truth as in the row
  std::string extracted;  // the answer taken from the response ("" = empty)
  // What the majority vote compares (answers equal iff keys equal), e.g.
  // the lower-cased or normalised answer; "" = no answer, no vote.
  std::string key;
  bool correct = false;
  std::string group;     // the image, for group accuracy
  std::string category;  // level (TFQ) or question type; "" = none
  bool heldout = false;
};

// What the set of answers can be (decides which metrics are defined).
enum class AnswerKind {
  TrueFalse,  // T/F: balanced accuracy over {T, F}, answer bias, invalid answers
  Choice,     // letters: balanced accuracy = mean recall over the truths' classes
  Free,       // short answers: accuracy and majority baseline only
};

struct SetMetrics {
  size_t n = 0;
  double accuracy = 0;
  // Mean over the ground-truth classes of the fraction of that class's rows
  // answered correctly (T/F: the mean of the true-positive and true-negative
  // rates). A model that always gives one answer scores 1 / classes.
  double balanced_accuracy = 0;
  // Accuracy of always giving the most frequent ground truth of the set.
  double majority_baseline = 0;
  // T/F: fraction of "T" among the answers that are T or F (case ignored);
  // nullopt when there are none.
  std::optional<double> answer_bias;
  // Fraction of groups (images) whose every row is correct.
  double group_accuracy = 0;
  double empty_answers = 0;    // fraction with no answer
  double invalid_answers = 0;  // T/F: fraction with an answer other than T or F
};

SetMetrics set_metrics(const std::vector<Prediction>& predictions, AnswerKind kind);

// The majority answer per row over samples[0..n): the most frequent
// non-empty key; ties go to the answer that came first. Rows where no sample
// answered keep sample 0 (an empty answer).
std::vector<Prediction> majority_vote(const std::vector<std::vector<Prediction>>& samples);

struct SummaryOptions {
  AnswerKind kind = AnswerKind::Free;
  // Also per category ("literal.accuracy", "count.accuracy").
  bool by_category = true;
  // Also "heldout.*" and "seen.*" when some row is held out.
  bool by_heldout = true;
};

// Every summary of a benchmark: the metrics of SetMetrics for the whole set
// and each scope (names from metric::), `rows`, and for n > 1 the
// majority-vote accuracies. Means over sample sets; a metric undefined for
// every set (answer_bias without any T/F answer) is left out.
std::map<std::string, double> summarize(const std::vector<std::vector<Prediction>>& samples,
                                        const SummaryOptions& options);

// Scores of a judge (OSQ): one per row and sample, nullopt = judge failure.
struct JudgedAnswer {
  std::optional<double> score;
  std::map<std::string, double> dimensions;
  bool heldout = false;
};

// mean_score (over judged answers), score_0 .. score_5 (fraction of judged
// answers with that score, rounded; 0 is a reply without a score that the
// benchmark counts), judged, judge_failures (counts),
// "dimension.NAME" means, and per scope (heldout/seen) mean_score.
std::map<std::string, double> summarize_judged(const std::vector<JudgedAnswer>& answers);

}  // namespace mstar::bench
