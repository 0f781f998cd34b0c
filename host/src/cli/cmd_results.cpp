// Questions to the registry: results (filter, group over seeds, pivot),
// metrics (one run's series), diff (two runs), export (everything, for
// pandas & co). All read-only.
#include <cmath>
#include <fstream>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "cli/cli.h"
#include "cli/cmd_results.h"
#include "export/mlflow.h"
#include "export/tensorboard.h"
#include "mstar/error.h"
#include "mstar/params.h"
#include "mstar/registry/query.h"
#include "mstar/registry/registry.h"

namespace mstar::cli {

using registry::Format;

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t end = v.find(',', start);
      if (end == std::string::npos) end = v.size();
      std::string item = v.substr(start, end - start);
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      while (!item.empty() && item.back() == ' ') item.pop_back();
      if (!item.empty()) out.push_back(item);
      start = end + 1;
    }
  }
  return out;
}

std::unique_ptr<registry::Registry> open_registry_ro(const StoreOptions& so) {
  return registry::Registry::open(so.paths().registry, registry::OpenMode::ReadOnly);
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return;
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) throw_io("cannot write " + path);
  out << text;
  if (!out.flush()) throw_io("cannot write " + path);
}

int cmd_results(const Args& args) {
  po::options_description desc("results options");
  StoreOptions so;
  std::vector<std::string> targets, group_by, metrics, columns;
  std::string where, agg, sort, pivot, format;
  bool desc_order = false, metric_rows = false;
  size_t limit = 0;
  so.add_to(desc, false, false);
  desc.add_options()("target", po::value(&targets)->composing(), "sweeps (name or id) or runs (id prefix); none: all")(
      "where,w", po::value(&where), "filter, e.g. \"params.train.lr >= 1e-4 and status = 'done'\"")(
      "group-by,g", po::value(&group_by)->composing(),
      "params (or run fields) to group by; seeds are aggregated. Comma-separated or repeated")(
      "metric,m", po::value(&metrics)->composing(),
      "metrics to show: NODE.KEY (summary) or NODE.KEY@last|@first|@max|@min|@mean|@step=N; default: all summaries")(
      "agg,a", po::value(&agg), "aggregates when grouping: mean,std,min,max,median,count,ci95 (default mean,ci95)")(
      "pivot,p", po::value(&pivot), "a param whose values become columns (the ablation table of a paper)")(
      "columns,c", po::value(&columns)->composing(), "columns per run when not grouping (default: the swept params)")(
      "sort,s", po::value(&sort), "sort by a column or field; a leading '-' sorts descending (--sort=-eval.acc)")(
      "desc", po::bool_switch(&desc_order), "sort descending")(
      "metric-rows", po::bool_switch(&metric_rows),
      "grouped: a row per metric and a column per group (many metrics, few groups)")("limit,n", po::value(&limit)->default_value(0),
                                                               "at most N rows (0: all)")(
      "format,f", po::value(&format)->default_value("table"), "table, csv, json or markdown");
  po::positional_options_description pos;
  pos.add("target", -1);
  po::variables_map vm;
  if (!parse(args,
             "mstar results [SWEEP|RUN...] [--where EXPR] [--group-by KEYS] [--metric KEYS] [--agg LIST] "
             "[--pivot PARAM | --metric-rows] [--sort KEY] [--limit N] [--format table|csv|json|markdown]",
             "Answers questions about runs: filters them with an expression over params, summary metrics, series "
             "selectors (@max, @last, @step=N) and run fields (status, created, ...), and aggregates replicate "
             "seeds (mean, std, 95% CI) per group. See docs/results-cli.md for the expression language.",
             "mstar results tfq-scaling --where \"params.train.algo in ('grpo', 'sft') and status = 'done'\" "
             "--group-by train.algo,base.size --metric eval.accuracy,train.reward_mean@max --pivot base.size",
             desc, &pos, vm))
    return 0;
  const Format fmt = registry::parse_format(format, {Format::Table, Format::Csv, Format::Json, Format::Markdown});
  registry::TableSpec spec;
  spec.group_by = split_list(group_by);
  spec.metrics = split_list(metrics);
  spec.columns = split_list(columns);
  if (!agg.empty()) spec.aggs = registry::parse_aggs(agg);
  spec.sort = sort;
  spec.descending = desc_order;
  if (!spec.sort.empty() && spec.sort.front() == '-') {
    spec.sort.erase(spec.sort.begin());
    spec.descending = true;
  }
  spec.limit = limit;
  spec.pivot = pivot;
  spec.metric_rows = metric_rows;
  spec.text_cells = !pivot.empty() && (fmt == Format::Table || fmt == Format::Markdown);
  const registry::Filter filter = registry::Filter::parse(where, "--where");
  auto reg = open_registry_ro(so);
  registry::Results res(*reg, targets, filter);
  const registry::Table table = registry::results_table(res, spec);
  std::cout << registry::render(table, fmt);
  if (fmt == Format::Table && res.runs().empty()) std::cerr << "(no runs matched)\n";
  return 0;
}

int cmd_metrics(const Args& args) {
  po::options_description desc("metrics options");
  StoreOptions so;
  std::string run_id, node, format;
  std::vector<std::string> keys;
  so.add_to(desc, false, false);
  desc.add_options()("run", po::value(&run_id)->required(), "run id (a unique prefix is enough)")(
      "node", po::value(&node), "only this node (default: every node of the run)")(
      "key,k", po::value(&keys)->composing(), "only these metric keys (comma-separated or repeated)")(
      "format,f", po::value(&format)->default_value("csv"), "csv, json, table or markdown");
  po::positional_options_description pos;
  pos.add("run", 1).add("node", 1);
  po::variables_map vm;
  if (!parse(args, "mstar metrics RUN [NODE] [--key K...] [--format csv|json|table|markdown]",
             "Prints the metric series of a run (every point: node, key, step, value, time). JSON gives one "
             "object per series with parallel step/value/time arrays.",
             "mstar metrics 3fa9c1 train --key loss,reward_mean --format json", desc, &pos, vm))
    return 0;
  const Format fmt =
      registry::parse_format(format, {Format::Csv, Format::Json, Format::Table, Format::Markdown});
  keys = split_list(keys);
  auto reg = open_registry_ro(so);
  auto run = reg->get_run(run_id);
  if (!run) throw_bad_input("no run '" + run_id + "' in " + reg->path().string() + " (see `mstar runs`)");
  std::vector<registry::NodeRunRecord> nodes;
  std::vector<std::string> node_names;
  for (auto& n : reg->node_runs(run->id)) {
    node_names.push_back(n.node);
    if (node.empty() || n.node == node) nodes.push_back(n);
  }
  if (!node.empty() && nodes.empty()) {
    const std::string hint = did_you_mean(node, node_names);
    throw_bad_input("run " + run->id + " has no node '" + node + "'" +
                    (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
  }
  registry::Table t;
  t.columns = {"node", "key", "step", "value", "time"};
  Json series = Json::array();
  std::set<std::string> found, all_keys;
  for (const auto& n : nodes) {
    for (const auto& p : reg->metrics(n.cache_key)) all_keys.insert(p.key);
    const auto points = reg->metrics(n.cache_key, keys);
    for (const auto& p : points) {
      found.insert(p.key);
      t.rows.push_back({n.node, p.key, static_cast<double>(p.step), p.value, p.time});
      if (series.empty() || series.back()["node"] != n.node || series.back()["key"] != p.key)
        series.push_back({{"node", n.node}, {"key", p.key}, {"cache_key", n.cache_key}, {"step", Json::array()},
                          {"value", Json::array()}, {"time", Json::array()}});
      series.back()["step"].push_back(p.step);
      series.back()["value"].push_back(std::isfinite(p.value) ? Json(p.value) : Json());
      series.back()["time"].push_back(p.time);
    }
  }
  for (const auto& k : keys) {
    if (found.count(k)) continue;
    std::string list;
    for (const auto& a : all_keys) list += (list.empty() ? "" : ", ") + a;
    throw_bad_input("run " + run->id + (node.empty() ? "" : " node " + node) + " has no metric '" + k + "'" +
                    (list.empty() ? " (it logged no series)" : " (its keys: " + list + ")"));
  }
  if (fmt == Format::Json) std::cout << series.dump(2) << "\n";
  else std::cout << registry::render(t, fmt);
  return 0;
}

namespace {

std::string param_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return registry::to_text(registry::Value(v.get<double>()));
  return v.dump();
}

std::string number_text(double v) { return registry::to_text(registry::Value(v), 6); }

}  // namespace

int cmd_diff(const Args& args) {
  po::options_description desc("diff options");
  StoreOptions so;
  std::string a_id, b_id;
  bool all = false;
  so.add_to(desc, false, true);
  desc.add_options()("run-a", po::value(&a_id)->required(), "first run (id prefix)")(
      "run-b", po::value(&b_id)->required(), "second run (id prefix)")("all", po::bool_switch(&all),
                                                                       "also list the params that are equal");
  po::positional_options_description pos;
  pos.add("run-a", 1).add("run-b", 1);
  po::variables_map vm;
  if (!parse(args, "mstar diff RUN_A RUN_B [--all] [--format table|json]",
             "Compares two runs: the params that differ, and every summary metric with its change (B - A).",
             "mstar diff 3fa9c1 77b0e2", desc, &pos, vm))
    return 0;
  if (so.format != "table" && so.format != "json") throw_bad_input("--format: expected table or json, got '" + so.format + "'");
  auto reg = open_registry_ro(so);
  auto a = reg->get_run(a_id), b = reg->get_run(b_id);
  if (!a) throw_bad_input("no run '" + a_id + "' (see `mstar runs`)");
  if (!b) throw_bad_input("no run '" + b_id + "' (see `mstar runs`)");

  const auto pa = reg->params(a->id), pb = reg->params(b->id);
  std::set<std::string> param_keys;
  for (const auto& [k, v] : pa) param_keys.insert(k);
  for (const auto& [k, v] : pb) param_keys.insert(k);
  std::vector<std::vector<std::string>> param_rows;
  Json params_json = Json::array();
  for (const auto& k : param_keys) {
    const auto ia = pa.find(k), ib = pb.find(k);
    const bool same = ia != pa.end() && ib != pb.end() && ia->second == ib->second;
    if (same && !all) continue;
    const std::string va = ia == pa.end() ? "-" : param_text(ia->second);
    const std::string vb = ib == pb.end() ? "-" : param_text(ib->second);
    param_rows.push_back({k, va, vb});
    if (all) param_rows.back().push_back(same ? "" : "yes");
    params_json.push_back({{"key", k},
                           {"a", ia == pa.end() ? Json() : ia->second},
                           {"b", ib == pb.end() ? Json() : ib->second},
                           {"differs", !same}});
  }

  // Summaries per node name; nodes with the same cache key are one shared instance.
  std::map<std::string, std::string> ka, kb;
  for (const auto& n : reg->node_runs(a->id)) ka[n.node] = n.cache_key;
  for (const auto& n : reg->node_runs(b->id)) kb[n.node] = n.cache_key;
  std::map<std::string, std::pair<std::optional<double>, std::optional<double>>> metrics;
  for (const auto& [node, key] : ka)
    for (const auto& [k, v] : reg->summaries(key)) metrics[node + "." + k].first = v;
  for (const auto& [node, key] : kb)
    for (const auto& [k, v] : reg->summaries(key)) metrics[node + "." + k].second = v;
  std::vector<std::string> shared, different;
  for (const auto& [node, key] : ka) {
    auto it = kb.find(node);
    if (it == kb.end()) continue;
    (it->second == key ? shared : different).push_back(node);
  }
  std::vector<std::vector<std::string>> metric_rows;
  Json metrics_json = Json::array();
  for (const auto& [name, values] : metrics) {
    const auto& [va, vb] = values;
    std::string delta = "-", change = "-";
    Json j = {{"metric", name}, {"a", va ? Json(*va) : Json()}, {"b", vb ? Json(*vb) : Json()}};
    if (va && vb && std::isfinite(*va) && std::isfinite(*vb)) {
      const double d = *vb - *va;
      delta = (d > 0 ? "+" : "") + number_text(d);
      j["delta"] = d;
      if (*va != 0) {
        change = fmt::format("{:+.2f}%", 100.0 * d / std::fabs(*va));
        j["relative"] = d / std::fabs(*va);
      }
    }
    metric_rows.push_back({name, va ? number_text(*va) : "-", vb ? number_text(*vb) : "-", delta, change});
    metrics_json.push_back(j);
  }

  if (so.format == "json") {
    auto run_json = [](const registry::RunRecord& r) {
      return Json{{"id", r.id}, {"name", r.name}, {"status", r.status}, {"seed", r.seed}};
    };
    std::cout << Json{{"a", run_json(*a)},       {"b", run_json(*b)},         {"params", params_json},
                      {"metrics", metrics_json}, {"shared_nodes", shared},    {"different_nodes", different}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "A: " << a->id << "  " << a->name << "  (" << a->status << ", seed " << a->seed << ")\n"
            << "B: " << b->id << "  " << b->name << "  (" << b->status << ", seed " << b->seed << ")\n";
  if (!shared.empty() || !different.empty()) {
    std::string s, d;
    for (const auto& n : shared) s += (s.empty() ? "" : ", ") + n;
    for (const auto& n : different) d += (d.empty() ? "" : ", ") + n;
    std::cout << "nodes: shared instance: " << (s.empty() ? "-" : s) << "; different: " << (d.empty() ? "-" : d)
              << "\n";
  }
  std::cout << "\nparams" << (all ? "" : " that differ") << ":\n";
  if (param_rows.empty()) std::cout << "  (none: same params)\n";
  else if (all) print_table({"param", "A", "B", "differs"}, param_rows, "table");
  else print_table({"param", "A", "B"}, param_rows, "table");
  std::cout << "\nsummary metrics (B - A):\n";
  if (metric_rows.empty()) std::cout << "  (none reported)\n";
  else print_table({"metric", "A", "B", "delta", "change"}, metric_rows, "table");
  return 0;
}

int cmd_export(const Args& args) {
  po::options_description desc("export options");
  StoreOptions so;
  std::vector<std::string> targets;
  std::string where, format, output, tensorboard, mlflow;
  bool series = false;
  so.add_to(desc, false, false);
  desc.add_options()("target", po::value(&targets)->composing(), "sweeps or runs; none: all runs")(
      "where,w", po::value(&where), "filter runs (see mstar results --help)")(
      "series", po::bool_switch(&series), "one row per metric point instead of one per trial")(
      "format,f", po::value(&format)->default_value("csv"), "csv, jsonl or json")(
      "output,o", po::value(&output), "write here instead of stdout")(
      "tensorboard", po::value(&tensorboard),
      "write TensorBoard event files under DIR instead (scalars per node/key/step, HParams): tensorboard --logdir DIR")(
      "mlflow", po::value(&mlflow),
      "write an MLflow file store (mlruns layout: params, metrics, tags) under DIR instead: "
      "MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri DIR");
  po::positional_options_description pos;
  pos.add("target", -1);
  po::variables_map vm;
  if (!parse(args, "mstar export [SWEEP|RUN...] [--where EXPR] [--series] [--format csv|jsonl|json] [-o FILE | --tensorboard DIR | --mlflow DIR]",
             "Exports runs for pandas, R or a spreadsheet: one row per trial with run columns, every param "
             "(params.KEY) and every summary (metrics.NODE.KEY); or with --series one row per metric point "
             "(run, node, key, step, value, time).",
             "mstar export tfq-scaling --format csv -o trials.csv   # pandas.read_csv('trials.csv')\n"
             "  mstar export tfq-scaling --mlflow mlruns   # MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri mlruns",
             desc, &pos,
             vm))
    return 0;
  const Format fmt = registry::parse_format(format, {Format::Csv, Format::Jsonl, Format::Json});
  auto reg = open_registry_ro(so);
  registry::Results res(*reg, targets, registry::Filter::parse(where, "--where"));
  if (!tensorboard.empty() && !mlflow.empty()) throw_bad_input("export: give --tensorboard or --mlflow, not both");
  if (!tensorboard.empty()) {
    const auto stats = exporting::export_tensorboard(res, tensorboard);
    std::cerr << "wrote " << tensorboard << " (" << stats.runs << " runs, " << stats.scalars
              << " points): tensorboard --logdir " << tensorboard << "\n";
    return 0;
  }
  if (!mlflow.empty()) {
    const auto stats = exporting::export_mlflow(res, mlflow);
    std::cerr << "wrote " << mlflow << " (" << stats.experiments << " experiments, " << stats.runs << " runs, "
              << stats.points << " points): MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri " << mlflow
              << "\n";
    return 0;
  }
  std::ofstream file;
  if (!output.empty() && output != "-") {
    file.open(output, std::ios::binary);
    if (!file) throw_io("cannot write " + output);
  }
  std::ostream& out = file.is_open() ? static_cast<std::ostream&>(file) : std::cout;
  if (series) registry::export_series(res, fmt, out);
  else registry::export_runs(res, fmt, out);
  if (!out.flush()) throw_io("cannot write " + (output.empty() ? std::string("stdout") : output));
  if (file.is_open())
    std::cerr << "wrote " << output << " (" << res.runs().size() << " runs" << (series ? ", all points" : "") << ")\n";
  return 0;
}

}  // namespace mstar::cli
