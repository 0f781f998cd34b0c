// The query engine behind `mstar results`, `plot`, `report`, `export` and
// `registry sql`: select runs (of sweeps, or by id) with a filter
// expression, load any field of them (params, summary metrics, series
// selectors such as `@max`, run columns), aggregate over replicate seeds and
// render tables.
//
// Pipeline: Filter::parse (expression text -> AST, with column-accurate
// errors) -> Results (scope + filter; loads one column per field with one
// bound SQL statement each, memoised) -> results_table (group, aggregate,
// pivot, sort) -> render (table, CSV, JSON, Markdown).
//
// Every user mistake throws Error(BadInput); database trouble Error(Io).
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mstar/json.h"

namespace mstar::registry {

class Registry;

// ---------------------------------------------------------------- values

// The value of a field for one run. monostate = missing (no such param, the
// node did not report the summary, SQL NULL). A stored NaN is a double NaN.
using Value = std::variant<std::monostate, bool, double, std::string>;

inline bool is_missing(const Value& v) { return std::holds_alternative<std::monostate>(v); }
// Numbers as their shortest round-trip text ("0.1", "3"), bools as
// true/false, missing as "". `significant` > 0 rounds numbers (%.Ng).
std::string to_text(const Value& v, int significant = 0);
// The number in v: a double, a bool (0/1) or a string that is entirely a
// number; nullopt otherwise.
std::optional<double> to_number(const Value& v);
// A total order for sorting: bools, then numbers (NaN last among them), then
// strings, then missing values.
int compare_for_sort(const Value& a, const Value& b);

// ---------------------------------------------------------------- fields

enum class FieldKind {
  Run,      // a column of the run: id, name, status, seed, created, ...
  Param,    // params.KEY: the trial's flattened params (node.param)
  Summary,  // metrics.NODE.KEY: the final value the node reported
  Series,   // metrics.NODE.KEY@SEL: a value picked from the node's series
};

enum class SeriesSelect { Last, First, Max, Min, Mean, Step };

struct Field {
  FieldKind kind = FieldKind::Run;
  std::string node;  // Summary/Series: the node name in the trial
  std::string key;   // Run: column name; Param: flattened key; metrics: metric key
  SeriesSelect select = SeriesSelect::Last;
  int64_t step = 0;  // SeriesSelect::Step

  // Canonical text: "status", "params.train.lr", "metrics.train.loss@max".
  std::string name() const;
  // For headers: "train.lr", "train.loss@max", "status".
  std::string label() const;
  bool is_time() const;  // created, started, finished
  bool operator==(const Field&) const = default;
};

// The run columns a filter can use.
inline constexpr std::array<std::string_view, 10> kRunFields = {
    "id", "sweep", "name", "status", "seed", "created", "started", "finished", "duration", "reason"};

// How a name without `params.` / `metrics.` is read.
enum class BareName {
  Strict,  // only run fields
  Param,   // a run field, else params.NAME  (--group-by train.algo)
  Metric,  // metrics.NAME                   (--metric eval.accuracy@max)
};

// Parses a field name. Throws Error(BadInput) explaining the valid forms.
Field parse_field(std::string_view text, BareName bare = BareName::Strict);

// ---------------------------------------------------------------- filters

// A parsed --where expression. Grammar (keywords case-insensitive):
//   expr    := and ('or' and)*            also ||
//   and     := unary ('and' unary)*       also &&
//   unary   := 'not' unary | '(' expr ')' | test      also !
//   test    := operand (CMP operand | ['not'] 'in' '(' operand, ... ')'
//                       | ['not'] 'like' STRING | 'is' ['not'] 'null')
//   CMP     := = == != <> < <= > >=
//   operand := field | NUMBER | 'STRING' | "STRING" | true | false
// Fields: params.KEY, metrics.NODE.KEY, metrics.NODE.KEY@last|@first|@max|
// @min|@mean|@step=N, a run field, or any of these in `backquotes`.
// Logic is SQL's three-valued one: a comparison with a missing value is
// unknown, `not unknown` is unknown, and only rows that are true pass.
//
// Bounds, so that no input can exhaust the stack or the memory of a query:
// an expression is at most kMaxExpressionBytes long and nests at most
// kMaxFilterNesting levels of '(' and 'not'; past either, parse() refuses it.
inline constexpr size_t kMaxExpressionBytes = 16 * 1024;
inline constexpr size_t kMaxFilterNesting = 64;
class Filter {
 public:
  Filter();  // matches everything
  // Throws Error(BadInput): "--where: column 17: expected a value after '>='"
  // followed by the expression and a caret under the column.
  static Filter parse(std::string_view text, std::string_view option = "--where");

  bool empty() const;
  // The fields the expression reads, without duplicates.
  const std::vector<Field>& fields() const { return fields_; }
  // values[i] is the run's value of fields()[i].
  bool matches(const std::vector<Value>& values) const;
  // Fully parenthesised canonical text, for tests and debugging.
  std::string to_string() const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<Field> fields_;
};

// SQL LIKE: % any run, _ one character, case-insensitive for ASCII, `\`
// escapes the next character.
bool like_match(std::string_view text, std::string_view pattern);

// ---------------------------------------------------------------- statistics

enum class Agg { Mean, Std, Min, Max, Count, Ci95, Median };

// "mean,std,ci95" -> aggs; throws Error(BadInput) naming the valid ones.
std::vector<Agg> parse_aggs(std::string_view comma_separated);
std::string_view to_string(Agg agg);

struct Stats {
  size_t count = 0;
  double mean, std, min, max, median, ci95;  // NaN when undefined
};
// Over the numbers among `values` (missing and NaN are skipped). std is the
// sample standard deviation (n - 1); ci95 is the half-width of the 95%
// confidence interval of the mean, t(0.975, n-1) * std / sqrt(n).
Stats describe(const std::vector<Value>& values);
Stats describe(std::vector<double> values);
double stat(const Stats& stats, Agg agg);
// The 0.975 quantile of Student's t distribution with `dof` degrees of
// freedom (table for 1..30, Cornish-Fisher expansion above). NaN for 0.
double t_quantile_975(size_t dof);

// ---------------------------------------------------------------- the selection

// The runs of `targets` that pass a filter, and lazily loaded columns of
// field values for them. Targets are sweeps (id, name, or unique id prefix)
// or runs (id or unique prefix); none means every run in the registry.
class Results {
 public:
  struct Run {
    std::string id, sweep_id, name, status, reason;
    double created = 0, started = 0, finished = 0;
    int64_t seed = 0;
  };

  Results(Registry& reg, const std::vector<std::string>& targets, const Filter& filter = {});
  ~Results();
  Results(const Results&) = delete;
  Results& operator=(const Results&) = delete;

  Registry& registry() { return reg_; }
  // Selected runs, ordered by creation time.
  const std::vector<Run>& runs() const { return runs_; }
  // The sweeps named by the targets (ids), in target order.
  const std::vector<std::string>& sweep_ids() const { return sweep_ids_; }

  // One value per selected run (same order as runs()); loaded once.
  const std::vector<Value>& column(const Field& field);

  // What exists for the selected runs, sorted by name.
  std::vector<std::string> param_keys();
  std::vector<Field> summary_fields();             // metrics.NODE.KEY
  std::vector<std::pair<std::string, std::string>> series_keys();  // (node, key)
  // Params with more than one distinct value among the selected runs: the
  // axes of a sweep. `seed` is left out unless with_seed.
  std::vector<Field> varying_params(bool with_seed);

  // The series NODE.KEY of every selected run, ordered by step (empty where
  // the run has no such node or metric). NaN points are kept as NaN.
  struct Curve {
    std::vector<int64_t> steps;
    std::vector<double> values;
  };
  const std::vector<Curve>& curves(const std::string& node, const std::string& key);

  // The order of values on an axis. A categorical param (string values)
  // keeps the order in which the selected runs' sweeps list its values
  // (grid: {size: [S, M, L]} gives S, M, L; not alphabetical); strings no
  // sweep lists come after, alphabetically. Numbers, bools and other fields
  // keep compare_for_sort's order.
  int compare_on_axis(const Field& field, const Value& a, const Value& b);
  // Lexicographic over fields[i] / a[i] / b[i] with compare_on_axis.
  bool less_on_axes(const std::vector<Field>& fields, const std::vector<Value>& a, const std::vector<Value>& b);
  // The distinct non-missing values of `field` among the selected runs, in axis order.
  std::vector<Value> axis_values(const Field& field);

 private:
  struct Scope;
  std::vector<Value> load(const Field& field);
  std::vector<std::string> cache_keys(const std::string& node);  // per run; "" when none

  Registry& reg_;
  std::unique_ptr<Scope> scope_;
  std::vector<Run> runs_;
  std::vector<std::string> sweep_ids_;
  std::map<std::string, std::vector<Value>> columns_;
  std::map<std::string, std::vector<std::string>> cache_keys_;
  std::map<std::pair<std::string, std::string>, std::vector<Curve>> curves_;
  std::map<std::string, std::map<std::string, size_t>> axis_ranks_;  // param key -> value -> position
  std::vector<Json> sweep_configs_;
  bool sweep_configs_loaded_ = false;
};

// ---------------------------------------------------------------- tables

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
};

enum class Format { Table, Csv, Json, Markdown, Jsonl };
// Throws Error(BadInput) when `name` is not one of `allowed`.
Format parse_format(std::string_view name, std::vector<Format> allowed, std::string_view option = "--format");
std::string_view to_string(Format format);

// Renders with a trailing newline. Table and Markdown round numbers to 6
// significant digits and show missing values as "-"; CSV and JSON keep full
// precision (JSON: NaN and missing are null; Jsonl is one object per line).
std::string render(const Table& table, Format format);

struct TableSpec {
  std::vector<std::string> group_by;  // fields; `train.algo` means params.train.algo
  std::vector<std::string> metrics;   // fields; `eval.acc@max` means metrics.eval.acc@max; empty: all summaries
  std::vector<std::string> columns;   // extra columns per run (ungrouped); empty: the varying params and seed
  std::vector<Agg> aggs;              // grouped; empty: mean, ci95
  std::string sort;                   // a column header or a field; empty: by the key columns
  bool descending = false;
  size_t limit = 0;                   // 0: all
  std::string pivot;                  // a param whose values become columns
  // Grouped and pivoted cells: true = one text cell per metric ("0.51 ± 0.02
  // (n=3)", for reading), false = one numeric column per metric and aggregate
  // (for sorting, CSV and JSON).
  bool text_cells = false;
  // Grouped: one row per metric and one text column per group ("runs"
  // first), for studies with many metrics and few groups: a reader does not
  // scroll sideways through 24 columns. Not with a pivot or a sort.
  bool metric_rows = false;
};

// Ungrouped: one row per run (run, status, columns, metrics). Grouped: one row
// per distinct group key (keys, runs, metric:agg...), aggregating the seeds.
// With a pivot: one row per key of the other group fields, and the pivot
// param's values as columns.
Table results_table(Results& results, const TableSpec& spec);

// `export`: one row per run with run columns, every param and every summary;
// or (`series`) one row per metric point: run, node, key, step, value, time.
void export_runs(Results& results, Format format, std::ostream& out);
void export_series(Results& results, Format format, std::ostream& out);

// ---------------------------------------------------------------- raw SQL

// Runs one SQL statement on a registry opened read-only. Refuses
// (Error(BadInput)) statements that would write, change the schema, attach
// files or set pragmas; ?1, ?2... take `args` (numbers bind as numbers).
Table run_readonly_sql(Registry& reg, std::string_view sql, const std::vector<std::string>& args = {});

}  // namespace mstar::registry
