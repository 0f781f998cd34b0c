// Aggregation over replicate seeds: mean, sample std, min, max, median,
// count, and the 95% confidence half-width of the mean (Student's t).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "mstar/error.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// t(0.975, dof) for dof = 1..30.
constexpr double kT975[] = {12.7062047, 4.3026527, 3.1824463, 2.7764451, 2.5705818, 2.4469119, 2.3646243,
                            2.3060041,  2.2621572, 2.2281389, 2.2009852, 2.1788128, 2.1603687, 2.1447867,
                            2.1314495,  2.1199053, 2.1098156, 2.1009220, 2.0930241, 2.0859634, 2.0796138,
                            2.0738731,  2.0686576, 2.0638986, 2.0595386, 2.0555294, 2.0518305, 2.0484071,
                            2.0452296,  2.0422725};

constexpr std::pair<Agg, std::string_view> kAggNames[] = {{Agg::Mean, "mean"},   {Agg::Std, "std"},
                                                           {Agg::Min, "min"},     {Agg::Max, "max"},
                                                           {Agg::Count, "count"}, {Agg::Ci95, "ci95"},
                                                           {Agg::Median, "median"}};

}  // namespace

double t_quantile_975(size_t dof) {
  if (dof == 0) return kNaN;
  if (dof <= std::size(kT975)) return kT975[dof - 1];
  // Cornish-Fisher expansion around the normal quantile; error < 1e-6 for
  // dof > 30.
  const double z = 1.959963984540054, v = static_cast<double>(dof);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, z9 = z7 * z * z;
  return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v) +
         (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * v * v * v * v);
}

std::string_view to_string(Agg agg) {
  for (const auto& [a, name] : kAggNames)
    if (a == agg) return name;
  return "mean";
}

std::vector<Agg> parse_aggs(std::string_view text) {
  std::vector<Agg> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(start, end - start);
    while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
    while (!word.empty() && word.back() == ' ') word.remove_suffix(1);
    start = end + 1;
    if (word.empty()) continue;
    bool found = false;
    for (const auto& [a, name] : kAggNames) {
      if (word != name && !(a == Agg::Ci95 && word == "ci")) continue;
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
      found = true;
    }
    if (!found)
      throw_bad_input("--agg: unknown aggregate '" + std::string(word) +
                      "'; use a comma-separated list of mean, std, min, max, count, ci95, median");
  }
  if (out.empty()) throw_bad_input("--agg: empty list; use e.g. mean,ci95");
  return out;
}

Stats describe(std::vector<double> xs) {
  xs.erase(std::remove_if(xs.begin(), xs.end(), [](double x) { return std::isnan(x); }), xs.end());
  Stats s;
  s.count = xs.size();
  s.mean = s.std = s.min = s.max = s.median = s.ci95 = kNaN;
  if (xs.empty()) return s;
  std::sort(xs.begin(), xs.end());
  const double n = static_cast<double>(xs.size());
  s.min = xs.front();
  s.max = xs.back();
  s.median = xs.size() % 2 ? xs[xs.size() / 2] : (xs[xs.size() / 2 - 1] + xs[xs.size() / 2]) / 2;
  // Shifted by the first value: equal values give exactly that value and a
  // zero spread (seeds that agree show "± 0", not "± 1e-17").
  const double shift = xs.front();
  double sum = 0;
  for (double x : xs) sum += x - shift;
  s.mean = shift + sum / n;
  if (xs.size() < 2) return s;
  double ss = 0;  // two-pass: no cancellation
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / (n - 1));
  s.ci95 = t_quantile_975(xs.size() - 1) * s.std / std::sqrt(n);
  return s;
}

Stats describe(const std::vector<Value>& values) {
  std::vector<double> xs;
  xs.reserve(values.size());
  for (const Value& v : values) {
    if (const auto* d = std::get_if<double>(&v)) xs.push_back(*d);
    else if (const auto* b = std::get_if<bool>(&v)) xs.push_back(*b ? 1.0 : 0.0);
  }
  return describe(std::move(xs));
}

double stat(const Stats& s, Agg agg) {
  switch (agg) {
    case Agg::Mean: return s.mean;
    case Agg::Std: return s.std;
    case Agg::Min: return s.min;
    case Agg::Max: return s.max;
    case Agg::Count: return static_cast<double>(s.count);
    case Agg::Ci95: return s.ci95;
    case Agg::Median: return s.median;
  }
  return kNaN;
}

}  // namespace mstar::registry
