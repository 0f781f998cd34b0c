// Charts from results, and the one-page HTML report of a sweep. Both build on
// the query engine (query.h) and draw with plot.h: `mstar plot` writes one
// chart, `mstar report` a self-contained page (inline CSS and SVG, no
// scripts, no network).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mstar/registry/plot.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

enum class Band { Ci95, Std, None };
Band parse_band(const std::string& name);  // ci95, std, none; Error(BadInput) otherwise

// y against x over the selected runs: one line (or bar group) per distinct
// value of the group fields, each point the mean over the runs (seeds) that
// share x and the group, with a band/error bar of the 95% CI or the std.
struct ChartSpec {
  std::string x;                   // a field; `data.images` means params.data.images
  std::string y;                   // a field; `eval.accuracy` means metrics.eval.accuracy
  std::vector<std::string> group;  // fields, as x
  Band band = Band::Ci95;
  bool log_x = false;
  std::string title;  // empty: "Y vs X"
};
// x must be numeric (Error(BadInput) naming the value otherwise).
plot::LineChart line_chart(Results& results, const ChartSpec& spec);
// x is categorical: one cluster of bars per value.
plot::BarChart bar_chart(Results& results, const ChartSpec& spec);

// Learning curves: the series NODE.KEY of each selected run over steps, or
// with `group`, the mean (and band) over the runs of each group at each step.
struct CurveSpec {
  std::vector<std::string> keys;   // NODE.KEY (metrics. optional)
  std::vector<std::string> group;  // fields; empty: one line per run
  double smooth = 0;               // TensorBoard-style weight in [0, 1)
  Band band = Band::Ci95;
  bool log_x = false;
  std::string title;
};
plot::LineChart curve_chart(Results& results, const CurveSpec& spec);

// ---------------------------------------------------------------- paper claims

// One claim of the paper and the measurement that tests it (a line of
// docs/paper_claims.tsv): `metric` over the runs of `sweep` passing `where`,
// minus `baseline` (if any) over the runs passing `baseline_where`. With no
// baseline_where the difference is paired, run by run; with one, it is the
// difference of the two groups' means (Welch). `direction` is the sign the
// paper reports: +1 (a gain) or -1 (a loss).
struct Claim {
  std::string id, text, paper, citation, sweep, metric, where, baseline, baseline_where;
  int direction = +1;
  size_t line = 0;
};
// Tab-separated: id, claim, paper figure, citation, sweep, metric, where,
// baseline, baseline_where, direction (+ or -); "-" for an empty field; '#'
// starts a comment line. Error(BadInput) naming the file, line and column.
std::vector<Claim> read_claims(const std::filesystem::path& tsv);

// The rule: a 95% CI (half-width ci95 around mean) that excludes 0 decides
// agree (same sign as `direction`) or disagree (opposite sign); an interval
// containing 0 is "within noise", and fewer than two values (ci95 NaN) are
// "not measurable at this scale".
std::string claim_verdict(double mean, double ci95, int direction);

// One row per claim: claim, paper (figure and citation), ours (mean ± CI,
// n, what was measured), verdict. Sweeps missing from the registry read
// "not run".
Table claims_table(Registry& reg, const std::vector<Claim>& claims);

struct ReportOptions {
  std::vector<std::string> targets;  // sweeps or runs; usually one sweep
  std::string where;
  std::vector<std::string> metrics;  // summary fields; empty: all
  std::string title;                 // empty: the sweep's name
  size_t max_plots = 12;             // scaling/ablation plots, and as many curves
};
// The whole page as one string.
std::string render_report(Registry& reg, const ReportOptions& options);

}  // namespace mstar::registry
