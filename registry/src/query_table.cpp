// Tables of results: per run or grouped over seeds, pivoted, sorted (their
// rendering and the `export` streams: query_format.cpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "impl.h"
#include "mstar/registry/query.h"

namespace mstar::registry {

namespace {

bool has(const std::vector<Agg>& aggs, Agg a) { return std::find(aggs.begin(), aggs.end(), a) != aggs.end(); }

// "0.5123 ± 0.0131 (n=3)": the requested aggregates in one cell.
std::string stats_cell(const Stats& s, const std::vector<Agg>& aggs) {
  auto num = [](double x) { return to_text(Value(x), 4); };
  std::string out;
  std::set<Agg> used;
  if (has(aggs, Agg::Mean)) {
    out = num(s.mean);
    used.insert(Agg::Mean);
    const Agg spread = has(aggs, Agg::Ci95) ? Agg::Ci95 : Agg::Std;
    if (has(aggs, spread)) {
      used.insert(spread);
      if (!std::isnan(stat(s, spread))) out += " ± " + num(stat(s, spread));
    }
  }
  for (Agg a : aggs) {
    if (used.count(a)) continue;
    if (!out.empty()) out += " ";
    if (a == Agg::Count) out += "(n=" + std::to_string(s.count) + ")";
    else out += std::string(to_string(a)) + "=" + num(stat(s, a));
  }
  return out;
}

std::vector<Field> parse_fields(const std::vector<std::string>& names, BareName bare) {
  std::vector<Field> out;
  for (const std::string& n : names) {
    Field f = parse_field(n, bare);
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
  }
  return out;
}

// The column a --sort names: a header, a field's label or full name, or a
// metric (its first aggregate column).
size_t sort_column(const Table& t, const std::string& sort) {
  std::vector<std::string> tries = {sort};
  for (const char* prefix : {"params.", "metrics."})
    if (sort.rfind(prefix, 0) == 0) tries.push_back(sort.substr(std::string(prefix).size()));
  for (const std::string& s : tries)
    for (size_t i = 0; i < t.columns.size(); ++i)
      if (t.columns[i] == s) return i;
  for (const std::string& s : tries)
    for (size_t i = 0; i < t.columns.size(); ++i)
      if (t.columns[i].rfind(s + ":", 0) == 0 || t.columns[i].rfind(s + " ", 0) == 0) return i;
  std::string list;
  for (const auto& c : t.columns) list += (list.empty() ? "" : ", ") + c;
  throw_bad_input("--sort: no column '" + sort + "'; the columns are: " + list);
}

struct Group {
  std::vector<Value> key;
  std::vector<size_t> rows;
};

// Groups in axis order (S, M, L as the sweep lists them).
std::vector<Group> group_runs(Results& res, const std::vector<Field>& fields,
                              const std::vector<const std::vector<Value>*>& key_columns, size_t n) {
  std::vector<std::vector<Value>> keys(n);
  for (size_t r = 0; r < n; ++r)
    for (const auto* col : key_columns) keys[r].push_back((*col)[r]);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return res.less_on_axes(fields, keys[a], keys[b]); });
  std::vector<Group> groups;
  for (size_t r : order) {
    const bool same = !groups.empty() && !res.less_on_axes(fields, groups.back().key, keys[r]) &&
                      !res.less_on_axes(fields, keys[r], groups.back().key);
    if (!same) groups.push_back({keys[r], {}});
    groups.back().rows.push_back(r);
  }
  return groups;
}

std::vector<Value> pick(const std::vector<Value>& column, const std::vector<size_t>& rows) {
  std::vector<Value> out;
  out.reserve(rows.size());
  for (size_t r : rows) out.push_back(column[r]);
  return out;
}

void sort_and_limit(Table& t, const TableSpec& spec) {
  if (!spec.sort.empty()) {
    const size_t c = sort_column(t, spec.sort);
    std::stable_sort(t.rows.begin(), t.rows.end(), [&](const auto& a, const auto& b) {
      // Missing and NaN values stay last in either direction.
      auto last = [](const Value& v) {
        const auto* d = std::get_if<double>(&v);
        return is_missing(v) || (d && std::isnan(*d));
      };
      if (last(a[c]) != last(b[c])) return last(b[c]);
      const int cmp = compare_for_sort(a[c], b[c]);
      return spec.descending ? cmp > 0 : cmp < 0;
    });
  }
  if (spec.limit > 0 && t.rows.size() > spec.limit) t.rows.resize(spec.limit);
}

Table per_run_table(Results& res, const TableSpec& spec, const std::vector<Field>& metrics) {
  std::vector<Field> columns =
      spec.columns.empty() ? res.varying_params(true) : parse_fields(spec.columns, BareName::Param);
  Table t;
  t.columns = {"run", "status"};
  std::vector<const std::vector<Value>*> cols;
  for (const Field& f : columns) {
    t.columns.push_back(f.label());
    cols.push_back(&res.column(f));
  }
  for (const Field& f : metrics) {
    t.columns.push_back(f.label());
    cols.push_back(&res.column(f));
  }
  for (size_t r = 0; r < res.runs().size(); ++r) {
    std::vector<Value> row = {res.runs()[r].id, res.runs()[r].status};
    for (const auto* col : cols) row.push_back((*col)[r]);
    t.rows.push_back(std::move(row));
  }
  if (spec.sort.empty()) {  // by the param columns, left to right, in axis order
    std::stable_sort(t.rows.begin(), t.rows.end(), [&](const auto& a, const auto& b) {
      for (size_t c = 0; c < columns.size(); ++c)
        if (const int cmp = res.compare_on_axis(columns[c], a[2 + c], b[2 + c])) return cmp < 0;
      return false;
    });
  }
  return t;
}

Table grouped_table(Results& res, const TableSpec& spec, const std::vector<Field>& metrics) {
  std::vector<Field> keys = parse_fields(spec.group_by, BareName::Param);
  std::vector<Agg> aggs = spec.aggs.empty() ? std::vector<Agg>{Agg::Mean, Agg::Ci95} : spec.aggs;
  std::vector<const std::vector<Value>*> key_cols, metric_cols;
  for (const Field& f : keys) key_cols.push_back(&res.column(f));
  for (const Field& f : metrics) metric_cols.push_back(&res.column(f));
  const size_t n = res.runs().size();
  Table t;

  if (spec.pivot.empty()) {
    for (const Field& f : keys) t.columns.push_back(f.label());
    t.columns.push_back("runs");
    for (const Field& m : metrics) {
      if (spec.text_cells) {
        t.columns.push_back(m.label());
        continue;
      }
      for (Agg a : aggs) t.columns.push_back(m.label() + ":" + std::string(to_string(a)));
    }
    for (const Group& g : group_runs(res, keys, key_cols, n)) {
      std::vector<Value> row = g.key;
      row.push_back(static_cast<double>(g.rows.size()));
      for (const auto* col : metric_cols) {
        const Stats s = describe(pick(*col, g.rows));
        if (spec.text_cells) {
          row.push_back(s.count == 0 ? Value() : Value(stats_cell(s, aggs)));
          continue;
        }
        for (Agg a : aggs) row.push_back(stat(s, a));
      }
      t.rows.push_back(std::move(row));
    }
    return t;
  }

  // Pivot: rows by the other keys, one column (or one per aggregate) per value.
  const Field pivot = parse_field(spec.pivot, BareName::Param);
  std::vector<Field> row_keys;
  for (const Field& f : keys)
    if (!(f == pivot)) row_keys.push_back(f);
  std::vector<const std::vector<Value>*> row_cols;
  for (const Field& f : row_keys) row_cols.push_back(&res.column(f));
  const std::vector<Value>& pivot_col = res.column(pivot);
  std::vector<Value> pivot_values = res.axis_values(pivot);
  if (std::any_of(pivot_col.begin(), pivot_col.end(), [](const Value& v) { return is_missing(v); }))
    pivot_values.emplace_back();  // a column for the runs without the param, last
  for (const Field& f : row_keys) t.columns.push_back(f.label());
  for (const Value& pv : pivot_values) {
    const std::string head = pivot.label() + "=" + (is_missing(pv) ? "-" : to_text(pv));
    for (const Field& m : metrics) {
      const std::string what = metrics.size() > 1 ? " " + m.label() : "";
      if (spec.text_cells) {
        t.columns.push_back(head + what);
        continue;
      }
      for (Agg a : aggs)
        t.columns.push_back(head + (metrics.size() > 1 ? what + ":" : " ") + std::string(to_string(a)));
    }
  }
  for (const Group& g : group_runs(res, row_keys, row_cols, n)) {
    std::vector<Value> row = g.key;
    for (const Value& pv : pivot_values) {
      std::vector<size_t> rows;
      for (size_t r : g.rows)
        if (compare_for_sort(pivot_col[r], pv) == 0) rows.push_back(r);
      for (const auto* col : metric_cols) {
        const Stats s = describe(pick(*col, rows));
        if (spec.text_cells) {
          row.push_back(rows.empty() || s.count == 0 ? Value() : Value(stats_cell(s, aggs)));
          continue;
        }
        for (Agg a : aggs) row.push_back(rows.empty() ? Value() : Value(stat(s, a)));
      }
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// The grouped table turned a quarter: a row per metric, a column per group.
Table metric_rows_table(Results& res, const TableSpec& spec, const std::vector<Field>& metrics) {
  TableSpec cells = spec;
  cells.text_cells = true;
  const Table wide = grouped_table(res, cells, metrics);
  const size_t keys = parse_fields(spec.group_by, BareName::Param).size();
  Table t;
  t.columns = {"metric"};
  for (const auto& row : wide.rows) {
    std::string head;
    for (size_t k = 0; k < keys; ++k) {
      const std::string value = is_missing(row[k]) ? "-" : to_text(row[k], 6);
      head += (k ? ", " : "") + (keys > 1 ? wide.columns[k] + "=" + value : value);
    }
    t.columns.push_back(head);
  }
  for (size_t c = keys; c < wide.columns.size(); ++c) {
    std::vector<Value> row = {wide.columns[c]};
    for (const auto& w : wide.rows) row.push_back(w[c]);
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace

Table results_table(Results& res, const TableSpec& spec) {
  std::vector<Field> metrics =
      spec.metrics.empty() ? res.summary_fields() : parse_fields(spec.metrics, BareName::Metric);
  Table t;
  if (spec.metric_rows) {
    if (spec.group_by.empty()) throw_bad_input("--metric-rows needs --group-by (the groups become the columns)");
    if (!spec.pivot.empty() || !spec.sort.empty()) throw_bad_input("--metric-rows goes with neither --pivot nor --sort");
    return metric_rows_table(res, spec, metrics);
  }
  if (spec.group_by.empty() && spec.pivot.empty()) {
    t = per_run_table(res, spec, metrics);
  } else {
    TableSpec s = spec;
    if (!s.pivot.empty()) {
      const Field p = parse_field(s.pivot, BareName::Param);
      bool present = false;
      for (const auto& g : s.group_by) present = present || parse_field(g, BareName::Param) == p;
      if (!present) s.group_by.push_back(s.pivot);
    }
    t = grouped_table(res, s, metrics);
  }
  sort_and_limit(t, spec);
  return t;
}

}  // namespace mstar::registry
