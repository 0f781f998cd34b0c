// benchmark/compare: the before/after table of two runs of one benchmark on
// the same rows (a base and its trained model), with a paired bootstrap over
// images so that a difference is called a gain only when it is larger than
// what resampling the benchmark itself produces. No LibTorch: it reads the
// predictions.jsonl the benchmarks write.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <sstream>


#include "metrics.h"
#include "mstar/format.h"
#include "mstar/data/jsonl.h"
#include "mstar/plugin.h"

namespace mstar::bench {

namespace {

struct Row {
  Prediction p;
  std::string question_id;
};

// Sample 0 of every row of an artifact's predictions.jsonl, by question id.
std::map<std::string, Row> read_predictions(const Artifact& artifact) {
  const auto file = artifact.file("predictions.jsonl");
  std::map<std::string, Row> rows;
  data::for_each_jsonl(file, [&](size_t line, const Json& j) {
    if (j.value("sample", 0) != 0) return;
    const std::string where = file.string() + ":" + std::to_string(line) + ": ";
    for (const char* key : {"question_id", "answer", "extracted", "correct"})
      if (!j.contains(key)) throw_bad_input(where + "missing '" + key + "' (not a benchmark's predictions?)");
    Row r;
    r.question_id = j["question_id"].get<std::string>();
    r.p.truth = j["answer"].get<std::string>();
    r.p.extracted = j["extracted"].get<std::string>();
    r.p.key = r.p.extracted;
    r.p.correct = j["correct"].get<bool>();
    r.p.group = j.value("image_id", r.question_id);
    r.p.category = j.value("category", "");
    r.p.heldout = j.value("heldout", false);
    if (!rows.emplace(r.question_id, r).second) throw_bad_input(where + "duplicate question_id " + r.question_id);
  });
  if (rows.empty()) throw_bad_input(file.string() + ": no predictions");
  return rows;
}

// Per image, per ground-truth class: rows and rows right, before and after.
// Balanced accuracy is a ratio of sums, so a bootstrap replicate only adds
// up the counts of the images it drew.
struct ImageCounts {
  std::map<std::string, std::array<double, 3>> by_class;  // truth -> {rows, right before, right after}
};

double balanced(const std::map<std::string, std::array<double, 3>>& sums, int which) {
  double total = 0;
  int classes = 0;
  for (const auto& [truth, s] : sums) {
    if (s[0] <= 0) continue;
    total += s[static_cast<size_t>(which)] / s[0];
    ++classes;
  }
  return classes ? total / classes : 0.0;
}

struct Interval {
  double low = 0, high = 0;
};

Interval bootstrap_delta(const std::vector<ImageCounts>& images, int replicates, double confidence, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, images.size() - 1);
  std::vector<double> deltas;
  deltas.reserve(static_cast<size_t>(replicates));
  for (int b = 0; b < replicates; ++b) {
    std::map<std::string, std::array<double, 3>> sums;
    for (size_t i = 0; i < images.size(); ++i)
      for (const auto& [truth, c] : images[pick(rng)].by_class)
        for (size_t k = 0; k < 3; ++k) sums[truth][k] += c[k];
    deltas.push_back(balanced(sums, 2) - balanced(sums, 1));
  }
  std::sort(deltas.begin(), deltas.end());
  const double tail = (1.0 - confidence) / 2.0;
  auto at = [&](double q) {
    const auto i = static_cast<size_t>(std::clamp(q * static_cast<double>(deltas.size() - 1), 0.0,
                                                  static_cast<double>(deltas.size() - 1)));
    return deltas[i];
  };
  return {at(tail), at(1.0 - tail)};
}

std::string pct(double x) { return mstar::format("{:.1f}", 100.0 * x); }

}  // namespace

class Compare {
 public:
  static PluginInfo info() {
    PluginInfo i;
    i.kind = "benchmark";
    i.name = "compare";
    i.version = "1.0.1";  // 1.0.1: report wording
    i.description =
        "Before/after table of two runs of the same benchmark (inputs `before`, `after`: benchmark artifacts with "
        "predictions.jsonl over the same question ids), per category (level) and overall: rows, majority "
        "baseline, accuracy and balanced accuracy before and after, and the change in balanced accuracy with a "
        "paired bootstrap confidence interval over images. Says 'within noise' when the interval contains 0. "
        "Writes report.md (printed by `mstar run`) and summaries delta.balanced_accuracy[.CATEGORY], "
        "delta_low.*, delta_high.*.";
    i.params.add(ParamSpec::string("title").def("before / after").describe("heading of the report"))
        .add(ParamSpec::string("before_label").def("before").describe("column label of the `before` input"))
        .add(ParamSpec::string("after_label").def("after").describe("column label of the `after` input"))
        .add(ParamSpec::integer("bootstrap").def(2000).range(100, 1000000).describe("bootstrap replicates"))
        .add(ParamSpec::real("confidence").def(0.95).range(0.5, 0.999).describe("two-sided interval level"));
    i.inputs = {{"before", "benchmark", true, "the baseline model's benchmark run"},
                {"after", "benchmark", true, "the compared model's run of the same benchmark"}};
    i.outputs = {{"", "report", "report.md and comparison.json"}};
    i.examples = {
        "compare:\n  plugin: benchmark/compare\n  inputs: {before: bench_base, after: bench_grpo}\n"
        "  params: {before_label: base, after_label: TFQ-GRPO}"};
    return i;
  }

  void run(NodeContext& ctx) {
    const Params& p = ctx.params();
    const auto before = read_predictions(*ctx.input("before"));
    const auto after = read_predictions(*ctx.input("after"));
    if (before.size() != after.size() ||
        !std::equal(before.begin(), before.end(), after.begin(), [](const auto& a, const auto& b) { return a.first == b.first; }))
      throw_bad_input("benchmark/compare: `before` (" + ctx.input("before")->dir().string() + ", " +
                      std::to_string(before.size()) + " rows) and `after` (" + ctx.input("after")->dir().string() +
                      ", " + std::to_string(after.size()) + " rows) are not over the same question ids");

    std::set<std::string> categories;
    for (const auto& [id, r] : before)
      if (!r.p.category.empty()) categories.insert(r.p.category);
    // TFQ levels in the paper's order (literal -> implication), others after.
    std::vector<std::string> scopes{""};
    for (const char* level : {"literal", "symbolic", "implication"})
      if (categories.erase(level)) scopes.push_back(level);
    scopes.insert(scopes.end(), categories.begin(), categories.end());

    const std::string lb = p.get_string("before_label"), la = p.get_string("after_label");
    std::ostringstream md;
    md << "### " << p.get_string("title") << "\n\n"
       << "| scope | rows | majority | " << lb << " acc | " << la << " acc | " << lb << " bal. acc | " << la
       << " bal. acc | change (" << mstar::format("{:.0f}", 100 * p.get_float("confidence")) << "% CI) | verdict |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---|---|\n";
    Json out = Json::object();
    std::vector<std::string> verdicts;
    for (const auto& scope : scopes) {
      std::vector<Prediction> pb, pa;
      std::map<std::string, ImageCounts> images;
      for (const auto& [id, rb] : before) {
        if (!scope.empty() && rb.p.category != scope) continue;
        const Row& ra = after.at(id);
        pb.push_back(rb.p);
        pa.push_back(ra.p);
        auto& c = images[rb.p.group].by_class[rb.p.truth];
        c[0] += 1;
        c[1] += rb.p.correct ? 1 : 0;
        c[2] += ra.p.correct ? 1 : 0;
      }
      const SetMetrics mb = set_metrics(pb, AnswerKind::Choice), ma = set_metrics(pa, AnswerKind::Choice);
      std::vector<ImageCounts> per_image;
      for (auto& [g, c] : images) per_image.push_back(std::move(c));
      const Interval ci = bootstrap_delta(per_image, static_cast<int>(p.get_int("bootstrap")),
                                          p.get_float("confidence"), ctx.seed());
      const double delta = ma.balanced_accuracy - mb.balanced_accuracy;
      const std::string verdict = ci.low > 0 ? "gain" : ci.high < 0 ? "loss" : "within noise";
      const std::string name = scope.empty() ? "all" : scope;
      md << "| " << name << " | " << pb.size() << " | " << pct(mb.majority_baseline) << " | " << pct(mb.accuracy)
         << " | " << pct(ma.accuracy) << " | " << pct(mb.balanced_accuracy) << " | " << pct(ma.balanced_accuracy)
         << " | " << mstar::format("{:+.1f} [{:+.1f}, {:+.1f}]", 100 * delta, 100 * ci.low, 100 * ci.high) << " | "
         << verdict << " |\n";
      const std::string suffix = scope.empty() ? "" : "." + scope;
      ctx.summary("delta.balanced_accuracy" + suffix, delta);
      ctx.summary("delta_low.balanced_accuracy" + suffix, ci.low);
      ctx.summary("delta_high.balanced_accuracy" + suffix, ci.high);
      out[name] = {{"rows", pb.size()},
                   {"majority_baseline", mb.majority_baseline},
                   {"before", {{"accuracy", mb.accuracy}, {"balanced_accuracy", mb.balanced_accuracy}}},
                   {"after", {{"accuracy", ma.accuracy}, {"balanced_accuracy", ma.balanced_accuracy}}},
                   {"delta_balanced_accuracy", delta},
                   {"ci", {ci.low, ci.high}},
                   {"verdict", verdict}};
      verdicts.push_back(name + ": " + verdict);
    }
    md << "\nBalanced accuracy is the mean of the per-answer recalls: always giving the same answer scores "
          "1 / (number of answers), 50% on T/F. The interval resamples images (" << p.get_int("bootstrap")
       << " replicates, paired); 'within noise' means it contains 0, so this benchmark cannot tell the two "
          "models apart.\n";
    write_file_atomic(ctx.output_dir() / "report.md", md.str());
    write_file_atomic(ctx.output_dir() / "comparison.json", out.dump(2) + "\n");
    ctx.annotate("report", "report.md");
    ctx.logger().info("compare: {}", mstar::join(verdicts, "; "));
  }
};
MSTAR_PLUGIN(Compare)

}  // namespace mstar::bench
