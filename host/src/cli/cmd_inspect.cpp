// Read-only views of the registry: runs, show, logs, status.
#include <fstream>
#include <iostream>

#include "cli/cli.h"
#include "mstar/error.h"
#include "mstar/params.h"
#include "mstar/registry/registry.h"

namespace mstar::cli {

namespace {

std::unique_ptr<registry::Registry> open_ro(const Paths& paths) {
  return registry::Registry::open(paths.registry, registry::OpenMode::ReadOnly);
}

}  // namespace

int cmd_runs(const Args& args) {
  po::options_description desc("runs options");
  StoreOptions so;
  std::string sweep;
  int limit = 50;
  so.add_to(desc, false, true);
  desc.add_options()("sweep", po::value(&sweep), "only the trials of this sweep (experiment name)")(
      "limit", po::value(&limit)->default_value(50), "at most this many rows");
  po::positional_options_description pos;
  pos.add("sweep", 1);
  po::variables_map vm;
  if (!parse(args, "mstar runs [SWEEP] [--limit N] [--format table|json]", "Lists recorded runs, newest first.",
             "mstar runs tfq-grpo-quick --limit 10", desc, &pos, vm))
    return 0;
  auto reg = open_ro(so.paths());
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : reg->list_runs(sweep)) {
    if (static_cast<int>(rows.size()) >= limit) break;
    rows.push_back({r.id, r.name, r.status, format_time(r.created),
                    format_duration(r.finished > 0 ? r.finished - r.started : 0), r.reason});
  }
  print_table({"run", "name", "status", "created", "duration", "reason"}, rows, so.format);
  return 0;
}

int cmd_show(const Args& args) {
  po::options_description desc("show options");
  StoreOptions so;
  std::string id;
  so.add_to(desc, false, true);
  desc.add_options()("run", po::value(&id)->required(), "run id (a unique prefix is enough)");
  po::positional_options_description pos;
  pos.add("run", 1);
  po::variables_map vm;
  if (!parse(args, "mstar show RUN [--format table|json]",
             "Shows a run's params, node states with durations and failure reasons, and summary metrics.",
             "mstar show 3fa9c1", desc, &pos, vm))
    return 0;
  auto reg = open_ro(so.paths());
  auto run = reg->get_run(id);
  if (!run) throw_bad_input("no run '" + id + "' in " + so.paths().registry.string() + " (see `mstar runs`)");
  auto nodes = reg->node_runs(run->id);
  auto params = reg->params(run->id);
  if (so.format == "json") {
    Json j = {{"id", run->id}, {"name", run->name}, {"status", run->status}, {"reason", run->reason},
              {"created", run->created}, {"finished", run->finished}, {"seed", run->seed}, {"env", run->env}};
    for (const auto& [k, v] : params) j["params"][k] = v;
    for (const auto& n : nodes) {
      Json nj = {{"node", n.node}, {"plugin", n.plugin}, {"status", n.status}, {"reason", n.reason},
                 {"cache_key", n.cache_key}, {"attempts", n.attempts}, {"started", n.started},
                 {"finished", n.finished}, {"log", n.log_path}, {"artifact", n.artifact_path}};
      if (n.exit_code) nj["exit_code"] = *n.exit_code;
      if (n.signal) nj["signal"] = *n.signal;
      nj["summaries"] = reg->summaries(n.cache_key);
      j["nodes"].push_back(nj);
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "run " << run->id << "  " << run->name << "\nstatus: " << run->status
            << (run->reason.empty() ? "" : " (" + run->reason + ")") << "\ncreated: " << format_time(run->created)
            << "   seed: " << run->seed << "\n\nparams:\n";
  for (const auto& [k, v] : params) std::cout << "  " << k << " = " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  std::cout << "\nnodes:\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : nodes) {
    std::string exit = n.signal ? "signal " + std::to_string(*n.signal) : n.exit_code ? std::to_string(*n.exit_code) : "";
    rows.push_back({n.node, n.plugin, n.status, format_duration(n.finished > 0 ? n.finished - n.started : 0), exit,
                    n.cache_key.substr(0, 12), n.reason});
  }
  print_table({"node", "plugin", "status", "duration", "exit", "key", "reason"}, rows, "table");
  std::cout << "\nsummaries:\n";
  for (const auto& n : nodes)
    for (const auto& [k, v] : reg->summaries(n.cache_key)) std::cout << "  " << n.node << "." << k << " = " << v << "\n";
  return 0;
}

int cmd_logs(const Args& args) {
  po::options_description desc("logs options");
  StoreOptions so;
  std::string id, node;
  so.add_to(desc, false, false);
  desc.add_options()("run", po::value(&id)->required(), "run id or prefix")("node", po::value(&node)->required(),
                                                                             "node name");
  po::positional_options_description pos;
  pos.add("run", 1).add("node", 1);
  po::variables_map vm;
  if (!parse(args, "mstar logs RUN NODE", "Prints the log file of one node of a run (all its attempts).",
             "mstar logs 3fa9c1 train", desc, &pos, vm))
    return 0;
  auto reg = open_ro(so.paths());
  auto run = reg->get_run(id);
  if (!run) throw_bad_input("no run '" + id + "' (see `mstar runs`)");
  std::vector<std::string> names;
  for (const auto& n : reg->node_runs(run->id)) {
    names.push_back(n.node);
    if (n.node != node) continue;
    if (n.log_path.empty()) throw_bad_input("node '" + node + "' of run " + run->id + " has no log (status " + n.status + ")");
    std::ifstream in(n.log_path);
    if (!in) throw_io("cannot read " + n.log_path);
    std::cout << in.rdbuf();
    return 0;
  }
  std::string hint = did_you_mean(node, names);
  throw_bad_input("run " + run->id + " has no node '" + node + "'" + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

int cmd_artifact(const Args& args) {
  po::options_description desc("artifact options");
  StoreOptions so;
  std::string id, node;
  so.add_to(desc, false, false);
  desc.add_options()("run", po::value(&id)->required(), "run id or prefix")("node", po::value(&node)->required(),
                                                                             "node name");
  po::positional_options_description pos;
  pos.add("run", 1).add("node", 1);
  po::variables_map vm;
  if (!parse(args, "mstar artifact RUN NODE",
             "Prints the artifact directory of one node of a run (only when the node finished).",
             "cp -r $(mstar artifact 3fa9c1 base) models/my_base", desc, &pos, vm))
    return 0;
  auto reg = open_ro(so.paths());
  auto run = reg->get_run(id);
  if (!run) throw_bad_input("no run '" + id + "' (see `mstar runs`)");
  for (const auto& n : reg->node_runs(run->id)) {
    if (n.node != node) continue;
    if (n.artifact_path.empty()) throw_bad_input("node '" + node + "' of run " + run->id + " has no artifact (status " + n.status + ")");
    std::cout << n.artifact_path << "\n";
    return 0;
  }
  throw_bad_input("run " + run->id + " has no node '" + node + "'");
}

int cmd_status(const Args& args) {
  po::options_description desc("status options");
  StoreOptions so;
  std::string sweep;
  so.add_to(desc, false, true);
  desc.add_options()("sweep", po::value(&sweep), "sweep (experiment name); default: all");
  po::positional_options_description pos;
  pos.add("sweep", 1);
  po::variables_map vm;
  if (!parse(args, "mstar status [SWEEP] [--format table|json]",
             "Counts the trials of a sweep by state, the node instances by state (cached ones included), and "
             "lists each failure's reason.",
             "mstar status tfq-grpo-quick", desc, &pos, vm))
    return 0;
  auto reg = open_ro(so.paths());
  std::map<std::string, size_t> trials, nodes;
  std::vector<std::vector<std::string>> failures;
  for (const auto& r : reg->list_runs(sweep)) {
    ++trials[r.status];
    for (const auto& n : reg->node_runs(r.id)) {
      ++nodes[n.status];
      if (n.status == "failed") failures.push_back({r.id, n.node, n.plugin, n.reason});
    }
  }
  if (so.format == "json") {
    std::cout << Json{{"trials", trials}, {"nodes", nodes}, {"failures", failures}}.dump(2) << "\n";
    return 0;
  }
  auto line = [](const char* what, const std::map<std::string, size_t>& counts) {
    std::cout << what;
    for (const char* s : {"done", "cached", "running", "failed", "skipped", "pending", "interrupted"})
      std::cout << "  " << s << " " << (counts.count(s) ? counts.at(s) : 0);
    std::cout << "\n";
  };
  line("trials:", trials);
  line("nodes: ", nodes);
  if (!failures.empty()) {
    std::cout << "\nfailures:\n";
    print_table({"run", "node", "plugin", "reason"}, failures, "table");
  }
  return 0;
}

}  // namespace mstar::cli
