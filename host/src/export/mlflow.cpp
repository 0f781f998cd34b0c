#include "export/mlflow.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "export/walk.h"
#include "mstar/error.h"
#include "mstar/registry/registry.h"
#include "util/hash.h"

namespace mstar::exporting {

namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw_io("mlflow export: cannot write " + path.string());
}

// A YAML single-quoted scalar: the only escape is '' for '.
std::string quoted(std::string s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out + "'";
}

int64_t ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000)); }

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);  // nan/inf read back as Python floats
  return buf;
}

// A param, metric or tag name becomes a path under the run: MLflow's own
// character set, and no component that would leave the directory.
const std::string& checked(const std::string& name, const std::string& what, const std::string& run_id) {
  static const std::regex allowed(R"([A-Za-z0-9_.\- :/]+)");
  bool ok = std::regex_match(name, allowed) && name.front() != '/' && name.back() != '/';
  for (const auto& part : fs::path(name)) ok = ok && part != "." && part != ".." && !part.empty();
  if (!ok)
    throw_bad_input("mlflow export: run " + run_id + ": " + what + " '" + name +
                    "' cannot be an MLflow name (expected letters, digits, _ - . space : /, and no empty, "
                    "'.' or '..' part)");
  return name;
}

// MLflow's RunStatus: RUNNING 1, SCHEDULED 2, FINISHED 3, FAILED 4, KILLED 5.
int run_status(const std::string& s) {
  if (s == "done") return 3;
  if (s == "failed") return 4;
  if (s == "running") return 1;
  if (s == "interrupted") return 5;
  return 2;  // pending
}

std::string experiment_id(const std::string& sweep_id) {
  static const std::regex mlflow_id(R"([A-Za-z0-9][\w\-]{0,63})");
  if (sweep_id.empty()) return "0";
  return std::regex_match(sweep_id, mlflow_id) ? sweep_id : "s" + sha1_hex(sweep_id).substr(0, 16);
}

void write_experiment(const fs::path& dir, const std::string& id, const std::string& name, double created,
                      double updated) {
  write_file(dir / "meta.yaml", "artifact_location: " + quoted("file://" + dir.string()) +
                                    "\ncreation_time: " + std::to_string(ms(created)) +
                                    "\nexperiment_id: " + quoted(id) +
                                    "\nlast_update_time: " + std::to_string(ms(updated)) +
                                    "\nlifecycle_stage: active\nname: " + quoted(name) + "\n");
}

}  // namespace

MlflowStats export_mlflow(registry::Results& results, const fs::path& dir_in) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_in, ec);
  if (ec) throw_io("mlflow export: cannot resolve " + dir_in.string());
  auto& reg = results.registry();
  MlflowStats stats;
  std::map<std::string, std::string> experiments;  // sweep id -> experiment id
  std::set<std::string> names;
  if (!fs::exists(dir / "0" / "meta.yaml", ec)) write_experiment(dir / "0", "0", "Default", 0, 0);
  names.insert("Default");

  for_each_run(results, [&](const ExportRun& r) {
    const auto& run = r.run;
    auto exp = experiments.find(run.sweep_id);
    if (exp == experiments.end()) {
      const std::string id = experiment_id(run.sweep_id);
      exp = experiments.emplace(run.sweep_id, id).first;
      if (id != "0") {
        const auto sweep = reg.get_sweep(run.sweep_id);
        std::string name = sweep ? sweep->name : run.sweep_id;
        // MLflow needs unique experiment names; a sweep run again keeps its name.
        if (!names.insert(name).second) name += " (" + run.sweep_id + ")";
        names.insert(name);
        write_experiment(dir / id, id, name, sweep ? sweep->created : run.created,
                         sweep ? sweep->updated : run.created);
        ++stats.experiments;
      }
    }
    const fs::path rd = dir / exp->second / checked(run.id, "run id", run.id);
    fs::remove_all(rd, ec);
    if (ec) throw_io("mlflow export: cannot replace " + rd.string() + ": " + ec.message());
    const std::string run_name = run.name.empty() ? run.id : run.name;
    const double start = run.started > 0 ? run.started : run.created;
    write_file(rd / "meta.yaml",
               "artifact_uri: " + quoted("file://" + (rd / "artifacts").string()) +
                   "\nend_time: " + (run.finished > 0 ? std::to_string(ms(run.finished)) : std::string("null")) +
                   "\nentry_point_name: ''\nexperiment_id: " + quoted(exp->second) +
                   "\nlifecycle_stage: active\nrun_id: " + quoted(run.id) + "\nrun_name: " + quoted(run_name) +
                   "\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: " +
                   std::to_string(ms(start)) + "\nstatus: " + std::to_string(run_status(run.status)) +
                   "\ntags: []\nuser_id: mstar\n");
    // MLflow finds a run only when all of these exist, even empty (a run
    // without points yet, a node that logs none).
    for (const char* sub : {"artifacts", "metrics", "params", "tags"}) {
      fs::create_directories(rd / sub, ec);
      if (ec) throw_io("mlflow export: cannot create " + (rd / sub).string() + ": " + ec.message());
    }

    for (const auto& [k, v] : r.params)
      write_file(rd / "params" / checked(k, "param", run.id), v.is_string() ? v.get<std::string>() : v.dump());

    std::map<std::string, std::string> tags = {{"mlflow.runName", run_name},
                                               {"mlflow.source.name", "mstar"},
                                               {"mstar.run_id", run.id},
                                               {"mstar.sweep", run.sweep_id},
                                               {"mstar.status", run.status},
                                               {"mstar.seed", std::to_string(run.seed)}};
    if (!run.reason.empty()) tags["mstar.reason"] = run.reason;
    for (const auto& n : r.nodes) {
      const std::string& node = checked(n.record.node, "node", run.id);
      tags["mstar.plugin." + node] = n.record.plugin + " " + n.record.plugin_version;
      tags["mstar.node_status." + node] = n.record.status;
      // One file per series: the points arrive ordered by key then step.
      std::string key, lines;
      auto flush = [&] {
        if (!key.empty()) write_file(rd / "metrics" / checked(series_name(node, key), "metric", run.id), lines);
        lines.clear();
      };
      for (const auto& p : n.points) {
        if (p.key != key) {
          flush();
          key = p.key;
        }
        lines += std::to_string(ms(p.time)) + " " + number(p.value) + " " + std::to_string(p.step) + "\n";
        ++stats.points;
      }
      flush();
      const double finished = n.record.finished > 0 ? n.record.finished : r.last_time;
      for (const auto& [k, v] : n.summaries)
        write_file(rd / "metrics" / checked(summary_name(node, k), "metric", run.id),
                   std::to_string(ms(finished)) + " " + number(v) + " " + std::to_string(r.last_step) + "\n");
    }
    for (const auto& [k, v] : tags) write_file(rd / "tags" / checked(k, "tag", run.id), v);
    ++stats.runs;
  });
  return stats;
}

}  // namespace mstar::exporting
