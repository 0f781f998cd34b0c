#include "cli/cli.h"

#include <cstdio>
#include <ctime>
#include <iostream>

#include "mstar/error.h"
#include "mstar/json.h"

namespace mstar::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"run", "validate an experiment (and its sweep), then run it; resumes what is missing", cmd_run},
      {"plugins", "list plugins, or show one plugin's parameters (plugins info KIND/NAME)", cmd_plugins},
      {"runs", "list recorded runs (trials), newest first", cmd_runs},
      {"show", "params, node states, summaries, durations and failure reasons of one run", cmd_show},
      {"logs", "print the log of one node of a run", cmd_logs},
      {"artifact", "print the artifact directory of one node of a run", cmd_artifact},
      {"status", "done / running / failed / pending / cached counts of a sweep", cmd_status},
      {"results", "query runs: filter, group over seeds (mean, 95% CI), pivot; table/csv/json/markdown", cmd_results},
      {"metrics", "print the metric series of a run (csv or json)", cmd_metrics},
      {"diff", "compare two runs: differing params and summary metric deltas", cmd_diff},
      {"plot", "draw an SVG chart: line (scaling, with CI bands), bar (ablations), curve (learning curves)", cmd_plot},
      {"report", "write a self-contained HTML report of a sweep (tables, pivots, plots, curves)", cmd_report},
      {"claims", "the paper's claims against the registry's measurements: agree / disagree / within noise",
       cmd_claims},
      {"export", "export trials (params + summaries) or metric points as csv / jsonl", cmd_export},
      {"registry",
       "raw read-only SQL on the registry (registry sql \"SELECT ...\"), schema, integrity check, copy SQLite <-> "
       "PostgreSQL",
       cmd_registry},
      {"serve", "a live, read-only dashboard of sweeps, curves, lineage and rollouts in the browser", cmd_serve},
      {"data", "look at a dataset: data preview DIR -o page.html, data stats DIR", cmd_data},
      {"exec-node", "internal: run one node instance (started by the host)", cmd_exec_node, true},
      {"probe-plugin", "internal: load a plugin library and print its descriptor", cmd_probe_plugin, true},
  };
  return table;
}

bool parse(const Args& args, const std::string& usage, const std::string& summary, const std::string& example,
           po::options_description& desc, const po::positional_options_description* positional,
           po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  try {
    auto parser = po::command_line_parser(args).options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage << "\n\n" << summary << "\n\n" << desc << "\nexample:\n  " << example << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw_bad_input(std::string(e.what()) + " (usage: " + usage + "; see --help)");
  }
  return true;
}

void StoreOptions::add_to(po::options_description& desc, bool with_plugins, bool with_format) {
  desc.add_options()("registry", po::value(&registry),
                     "registry: an SQLite file or a postgresql:// URL (default $MSTAR_REGISTRY, else "
                     "$MSTAR_HOME/registry.db)")(
      "store", po::value(&store), "artifact store (default $MSTAR_HOME/store)");
  if (with_plugins)
    desc.add_options()("plugin-path", po::value(&plugin_path)->composing(),
                       "extra plugin directory, searched before MSTAR_PLUGIN_PATH and the built-ins")(
        "trust-plugin-dir", po::bool_switch(&trust_plugin_dir),
        "load plugins from group/world-writable directories or files owned by another user (refused by default)");
  if (with_format)
    desc.add_options()("format", po::value(&format)->default_value("table"), "table or json");
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                 const std::string& format) {
  if (format == "json") {
    Json out = Json::array();
    for (const auto& row : rows) {
      Json o = Json::object();
      for (size_t i = 0; i < header.size() && i < row.size(); ++i) o[header[i]] = row[i];
      out.push_back(o);
    }
    std::cout << out.dump(2) << "\n";
    return;
  }
  if (format != "table") throw_bad_input("--format: expected table or json, got '" + format + "'");
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      if (i + 1 < header.size()) cell.resize(width[i], ' ');
      line += cell + (i + 1 < header.size() ? "  " : "");
    }
    std::cout << line << "\n";
  };
  emit(header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  emit(rule);
  for (const auto& row : rows) emit(row);
}

std::string format_time(double t) {
  if (t <= 0) return "-";
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&tt));
  return buf;
}

std::string format_duration(double s) {
  if (s <= 0) return "-";
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.2fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return buf;
}

}  // namespace mstar::cli
