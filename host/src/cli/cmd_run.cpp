#include <iostream>
#include <set>
#include <unistd.h>

#include "cli/cli.h"
#include "exec/plan.h"
#include "exec/scheduler.h"
#include "util/gpus.h"
#include "mstar/artifact.h"
#include "mstar/error.h"
#include "mstar/registry/registry.h"
#include "plugins/catalog.h"

namespace mstar::cli {

namespace {

void print_dry_run(const Plan& plan, const Paths& paths, bool force) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : plan.trials) rows.push_back({t.id, t.label.empty() ? "(base)" : t.label});
  print_table({"trial", "varied params"}, rows, "table");
  size_t cached = 0, shared = 0;
  for (const auto& [key, inst] : plan.instances) {
    if (!force && paths.artifacts().is_complete(key)) ++cached;
    if (inst.users.size() > 1) ++shared;
  }
  size_t node_uses = 0;
  for (const auto& t : plan.trials) node_uses += t.nodes.size();
  std::cout << "\n" << plan.trials.size() << " trial(s), " << node_uses << " node(s) in all; "
            << plan.instances.size() << " node instance(s) after sharing: " << plan.instances.size() - cached
            << " to run, " << cached << " cached, " << shared << " shared by several trials\n";
}

// The compact table printed when a run ends: one row per trial with the
// summaries of its nodes.
void print_trials(const Plan& plan, registry::Registry& reg) {
  std::vector<std::string> metric_cols;
  std::vector<std::map<std::string, std::string>> values(plan.trials.size());
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    for (const auto& [node, key] : plan.trials[t].nodes) {
      for (const auto& [k, v] : reg.summaries(key)) {
        const std::string col = node + "." + k;
        if (std::find(metric_cols.begin(), metric_cols.end(), col) == metric_cols.end()) metric_cols.push_back(col);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4g", v);
        values[t][col] = buf;
      }
    }
  }
  if (metric_cols.size() > 8) metric_cols.resize(8);  // the rest: mstar show / mstar results
  std::vector<std::string> header = {"trial", "status", "params"};
  header.insert(header.end(), metric_cols.begin(), metric_cols.end());
  std::vector<std::vector<std::string>> rows;
  for (size_t t = 0; t < plan.trials.size(); ++t) {
    auto run = reg.get_run(plan.trials[t].id);
    std::vector<std::string> row = {plan.trials[t].id, run ? run->status : "?", plan.trials[t].label};
    for (const auto& c : metric_cols) row.push_back(values[t].count(c) ? values[t][c] : "");
    rows.push_back(row);
  }
  std::cout << "\n";
  print_table(header, rows, "table");
}

// Nodes may publish a human-readable report (manifest field "report": a
// markdown file in the artifact, e.g. a before/after comparison); a run of a
// few trials prints them at the end.
void print_reports(const Plan& plan, const Paths& paths) {
  if (plan.trials.size() > 4) return;
  std::set<std::string> shown;
  for (const auto& t : plan.trials) {
    for (const auto& [node, key] : t.nodes) {
      const auto dir = paths.artifacts().artifact(key);
      if (!shown.insert(key).second || !Artifact::is_complete(dir)) continue;
      const Json manifest = Artifact::open(dir).manifest();
      if (!manifest.contains("report") || !manifest["report"].is_string()) continue;
      const auto file = dir / manifest["report"].get<std::string>();
      if (!std::filesystem::exists(file)) continue;
      std::cout << "\n" << read_file(file);
    }
  }
}

}  // namespace

constexpr int kDefaultSlurmJobs = 64;

int cmd_run(const Args& args) {
  po::options_description desc("run options");
  StoreOptions so;
  std::string file;
  std::vector<std::string> overrides, set_sweep;
  RunOptions opt;
  bool dry_run = false, no_live = false;
  std::string gpu_list;
  so.add_to(desc, true, false);
  desc.add_options()("file", po::value(&file)->required(), "experiment YAML")(
      "override", po::value(&overrides)->composing(), "key=value overrides (Hydra style), e.g. train.lr=3e-5")(
      "jobs,j", po::value(&opt.jobs)->default_value(1), "node instances run in parallel")(
      "cpus", po::value(&opt.cpu_budget)->default_value(0), "CPU budget shared by running nodes (0: all cores)")(
      "dry-run", po::bool_switch(&dry_run), "print the trials and what would run, run nothing")(
      "force", po::bool_switch(&opt.force), "recompute nodes even when their artifact is cached")(
      "set-sweep", po::value(&set_sweep)->composing(), "narrow a sweep axis: key=v1,v2")(
      "max-failures", po::value(&opt.max_failures)->default_value(-1), "stop scheduling after K failed trials")(
      "fail-fast", po::bool_switch(&opt.fail_fast), "stop scheduling at the first failed trial")(
      "grace", po::value(&opt.grace_s)->default_value(5.0), "seconds between SIGTERM and SIGKILL on interrupt")(
      "no-live", po::bool_switch(&no_live), "plain event lines even on a terminal")(
      "gpus", po::value(&gpu_list), "GPUs to share out among local nodes, as CUDA_VISIBLE_DEVICES names them "
      "(0,1,3); each node gets resources.gpus of them (default: all this machine's)")(
      "launcher", po::value(&opt.launcher), "local (child processes) or slurm (a batch job per node; "
      "docs/slurm.md); default: the experiment's `launcher:`, else local");
  po::positional_options_description pos;
  pos.add("file", 1).add("override", -1);
  po::variables_map vm;
  if (!parse(args, "mstar run FILE.yaml [key=value ...] [-j N] [--dry-run] [--force] [--registry PATH] [--store DIR]",
             "Validates the experiment and every trial of its sweep before running anything, then runs the "
             "graph's nodes as child processes (or, with --launcher slurm, as Slurm jobs). Nodes whose artifact is already complete are reused; running "
             "the same command again after a crash completes exactly what is missing.",
             "mstar run experiments/quickstart.yaml grpo.max_steps=50 -j 2", desc, &pos, vm))
    return 0;
  if (opt.jobs < 1) throw_bad_input("-j must be at least 1");
  if (!opt.launcher.empty() && opt.launcher != "local" && opt.launcher != "slurm")
    throw_bad_input("--launcher: expected local or slurm, got '" + opt.launcher + "'");
  if (vm.count("gpus")) opt.gpus = parse_gpu_list(gpu_list, "--gpus");
  const Paths paths = so.paths();
  PluginCatalog cat = PluginCatalog::discover(so.plugin_path, paths.home / "plugin-cache.json", so.trust_plugin_dir);
  Plan plan = make_plan({file, overrides, set_sweep}, cat);
  if (dry_run) {
    print_dry_run(plan, paths, opt.force);
    return 0;
  }
  opt.live = !no_live && ::isatty(STDERR_FILENO);
  // On a cluster -j bounds the jobs in Slurm's queue at once (what an
  // array's %N throttle would); one at a time would waste the cluster.
  const bool slurm = (opt.launcher.empty() ? plan.launcher.kind : opt.launcher) == "slurm";
  if (slurm && vm["jobs"].defaulted()) opt.jobs = kDefaultSlurmJobs;
  auto reg = registry::Registry::open(paths.registry, registry::OpenMode::ReadWrite);
  RunOutcome out = execute_plan(plan, *reg, paths, opt);
  print_trials(plan, *reg);
  print_reports(plan, paths);
  std::cout << "\n" << out.done << " ran, " << out.cached << " cached, " << out.failed << " failed, " << out.skipped
            << " skipped" << (out.was_interrupted ? ", interrupted (run the same command again to resume)" : "")
            << "\nregistry: " << reg->path().string() << "   store: " << paths.store.string()
            << "\nnext: mstar show " << (plan.trials.empty() ? std::string("RUN") : plan.trials.front().id)
            << "   mstar status " << plan.sweep_id << "\n";
  return out.exit_code();
}

}  // namespace mstar::cli
