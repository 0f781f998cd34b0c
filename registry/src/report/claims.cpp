// The paper's claims against our measurements: read the claims file, measure
// each claim's difference over seeds from the registry, and decide agree /
// disagree / within noise by one stated rule (claim_verdict).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "mstar/error.h"
#include "mstar/registry/registry.h"
#include "mstar/registry/report.h"

namespace mstar::registry {

namespace {

constexpr size_t kClaimFields = 10;

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  if (!line.empty() && line.back() == '\t') out.emplace_back();
  return out;
}

// Paired: metric - baseline run by run (or the metric alone without a baseline).
std::vector<double> paired(Results& res, const Field& metric, const std::optional<Field>& baseline) {
  const std::vector<Value>& a = res.column(metric);
  std::vector<double> out;
  for (size_t r = 0; r < a.size(); ++r) {
    const auto x = to_number(a[r]);
    if (!x || std::isnan(*x)) continue;
    if (!baseline) {
      out.push_back(*x);
      continue;
    }
    const auto y = to_number(res.column(*baseline)[r]);
    if (y && !std::isnan(*y)) out.push_back(*x - *y);
  }
  return out;
}

struct Measured {
  double mean = std::nan(""), ci95 = std::nan("");
  size_t n = 0;  // paired: runs; Welch: the smaller group
};

// Difference of two independent means with Welch's degrees of freedom
// (rounded down: the wider, conservative interval).
Measured welch(const Stats& a, const Stats& b) {
  Measured m;
  m.n = std::min(a.count, b.count);
  m.mean = a.mean - b.mean;
  if (a.count < 2 || b.count < 2) return m;
  const double va = a.std * a.std / a.count, vb = b.std * b.std / b.count;
  const double se = std::sqrt(va + vb);
  if (se == 0) {
    m.ci95 = 0;
    return m;
  }
  const double df = (va + vb) * (va + vb) / (va * va / (a.count - 1) + vb * vb / (b.count - 1));
  m.ci95 = t_quantile_975(static_cast<size_t>(std::max(1.0, std::floor(df)))) * se;
  return m;
}

std::string signed_number(double x) { return fmt::format("{:+.3f}", x); }

}  // namespace

std::vector<Claim> read_claims(const std::filesystem::path& tsv) {
  std::ifstream in(tsv);
  if (!in) throw_bad_input("cannot read the claims file " + tsv.string());
  std::vector<Claim> out;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = tsv.string() + ":" + std::to_string(number) + ": ";
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() != kClaimFields)
      throw_bad_input(where + fmt::format("{} tab-separated fields, expected {} (id, claim, paper figure, citation, "
                                          "sweep, metric, where, baseline, baseline_where, direction; '-' when empty)",
                                          f.size(), kClaimFields));
    auto text = [&](size_t i) { return f[i] == "-" ? std::string() : f[i]; };  // '-': empty
    Claim c{text(0), text(1), text(2), text(3), text(4), text(5), text(6), text(7), text(8), 0, number};
    if (f[9] == "+") c.direction = +1;
    else if (f[9] == "-") c.direction = -1;
    else throw_bad_input(where + "column 10 (direction): '" + f[9] + "', expected + (a gain) or - (a loss)");
    for (auto [value, name] : {std::pair{&c.id, "id"}, {&c.text, "claim"}, {&c.sweep, "sweep"}, {&c.metric, "metric"}})
      if (value->empty()) throw_bad_input(where + "the " + std::string(name) + " is empty");
    try {  // the fields and filters parse now, not halfway through the document
      parse_field(c.metric, BareName::Metric);
      if (!c.baseline.empty()) parse_field(c.baseline, BareName::Metric);
      Filter::parse(c.where, "where");
      Filter::parse(c.baseline_where, "baseline_where");
    } catch (const Error& e) {
      throw_bad_input(where + e.what());
    }
    if (!c.baseline_where.empty() && c.baseline.empty()) c.baseline = c.metric;
    out.push_back(std::move(c));
  }
  return out;
}

std::string claim_verdict(double mean, double ci95, int direction) {
  if (std::isnan(mean) || std::isnan(ci95)) return "not measurable at this scale";
  if (std::fabs(mean) <= ci95) return "within noise";
  return (mean > 0) == (direction > 0) ? "agree" : "disagree";
}

Table claims_table(Registry& reg, const std::vector<Claim>& claims) {
  Table t;
  t.columns = {"claim", "paper", "ours (95% CI)", "measured by", "verdict"};
  for (const Claim& c : claims) {
    std::string paper = c.paper.empty() ? "figure not in the public repo" : c.paper;
    if (!c.citation.empty()) paper += " (" + c.citation + ")";
    const Field metric = parse_field(c.metric, BareName::Metric);
    std::string measured = c.sweep + ": " + metric.label();
    if (!c.where.empty()) measured += " [" + c.where + "]";
    if (!c.baseline.empty()) {
      measured += " − " + parse_field(c.baseline, BareName::Metric).label();
      if (!c.baseline_where.empty()) measured += " [" + c.baseline_where + "]";
    }
    if (!reg.get_sweep(c.sweep)) {
      t.rows.push_back({c.text, paper, "-", measured, "not run"});
      continue;
    }
    Results res(reg, {c.sweep}, Filter::parse(c.where));
    Measured m;
    if (c.baseline_where.empty()) {
      const std::optional<Field> base =
          c.baseline.empty() ? std::nullopt : std::optional(parse_field(c.baseline, BareName::Metric));
      const Stats s = describe(paired(res, metric, base));
      m = {s.count ? s.mean : std::nan(""), s.ci95, s.count};
    } else {
      Results other(reg, {c.sweep}, Filter::parse(c.baseline_where));
      const Stats a = describe(paired(res, metric, std::nullopt));
      const Stats b = describe(paired(other, parse_field(c.baseline, BareName::Metric), std::nullopt));
      m = a.count && b.count ? welch(a, b) : Measured{};
    }
    std::string ours = "-";
    if (m.n > 0)
      ours = signed_number(m.mean) + (std::isnan(m.ci95) ? "" : fmt::format(" ± {:.3f}", m.ci95)) +
             fmt::format(" (n={})", m.n);
    t.rows.push_back({c.text, paper, ours, measured, m.n ? claim_verdict(m.mean, m.ci95, c.direction) : "not run"});
  }
  return t;
}

}  // namespace mstar::registry
