#include "exec/record.h"

#include <chrono>
#include <fstream>
#include <unistd.h>

#include "exec/scheduler.h"
#include "mstar/artifact.h"
#include "mstar/version.h"
#include "mstar_git_commit.h"  // generated at build time (cmake/GitCommit.cmake)
#ifndef MSTAR_TORCH_VERSION
#define MSTAR_TORCH_VERSION ""
#endif

namespace mstar {

namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool succeeded(NodeState s) { return s == NodeState::Done || s == NodeState::Cached; }

// Components are named inside node params ({plugin: reward/tfq, ...}).
void note_components(const Json& params, const Plan& plan, Json& plugins) {
  if (params.is_object()) {
    if (auto it = params.find("plugin"); it != params.end() && it->is_string()) {
      const std::string id = it->get<std::string>();
      if (plan.components.count(id)) plugins[id] = plan.libraries.value(id, Json::object());
    }
    for (const auto& [_, v] : params.items()) note_components(v, plan, plugins);
  } else if (params.is_array()) {
    for (const auto& v : params) note_components(v, plan, plugins);
  }
}

}  // namespace

const char* to_string(NodeState s) {
  switch (s) {
    case NodeState::Pending: return "pending";
    case NodeState::Running: return "running";
    case NodeState::Done: return "done";
    case NodeState::Cached: return "cached";
    case NodeState::Failed: return "failed";
    case NodeState::Skipped: return "skipped";
    case NodeState::Interrupted: return "interrupted";
  }
  return "pending";
}

// What a trial ran on. `plugins` names each plugin library its nodes and
// their components load, with its SHA-256.
Json environment_record(const Plan& plan, const PlannedTrial& trial) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  Json plugins = Json::object();
  for (const auto& [node, cfg] : trial.config.items()) {
    const std::string id = cfg.value("plugin", "");
    if (plan.libraries.contains(id)) plugins[id] = plan.libraries[id];
    note_components(cfg.value("params", Json::object()), plan, plugins);
  }
  return {{"mstar_version", MSTAR_VERSION_STRING}, {"git_commit", MSTAR_GIT_COMMIT}, {"host", host},
          {"libtorch", MSTAR_TORCH_VERSION},      {"seed", trial.seed},             {"pid", ::getpid()},
          {"plugins", plugins}};
}

Recorder::Recorder(const Plan& plan, registry::Registry& reg) : plan_(plan), reg_(reg) {
  for (const auto& key : plan.order) {
    index_of_[key] = instances_.size();
    Instance in;
    in.def = &plan.instances.at(key);
    instances_.push_back(std::move(in));
  }
  for (size_t i = 0; i < instances_.size(); ++i)
    for (const auto& dep : instances_[i].def->deps) instances_[index_of_.at(dep)].dependants.push_back(i);
  trial_open_.assign(plan.trials.size(), 0);
  trial_status_.assign(plan.trials.size(), "running");
  for (size_t t = 0; t < plan.trials.size(); ++t) trial_open_[t] = plan.trials[t].nodes.size();
}

void Recorder::begin(const Paths& paths, bool force) {
  start_ = now_seconds();
  paths_ = paths;
  // One transaction for the sweep and all its trials: a 1,000-trial sweep
  // started with 2,001 commits before.
  reg_.batch("record sweep " + plan_.sweep_id, [&] { write_sweep(); });
  for (size_t i = 0; i < instances_.size(); ++i) {
    Instance& in = instances_[i];
    for (const auto& dep : in.def->deps)
      if (!succeeded(instances_[index_of_.at(dep)].state)) ++in.unmet;
    const auto dir = paths.artifacts().artifact(in.def->key);
    in.log_path = paths.log(in.def->key).string();
    if (!force && Artifact::is_complete(dir)) {
      if (!reg_.has_metrics(in.def->key)) ingest_artifact_metrics(in.def->key, dir);
      in.state = NodeState::Cached;
      in.unmet = 0;
      write_users(i);
      resolve(i);
      continue;
    }
    write_users(i);
  }
  flush();
}

void Recorder::write_sweep() {
  reg_.upsert_sweep({plan_.sweep_id, plan_.name, plan_.raw_config, start_, start_});
  for (const auto& t : plan_.trials) {
    registry::RunRecord run;
    run.id = t.id;
    run.sweep_id = plan_.sweep_id;
    run.name = t.label.empty() ? plan_.name : plan_.name + " " + t.label;
    run.status = "running";
    run.created = run.started = start_;
    run.seed = t.seed;
    run.config = {{"file", plan_.file.string()}, {"assignment", t.assignment}, {"nodes", t.config}};
    run.env = environment_record(plan_, t);
    reg_.upsert_run(run);
    Json nested = Json::object();
    for (const auto& [node, cfg] : t.config.items()) nested[node] = cfg["params"];
    auto flat = registry::flatten_params(nested);
    flat["seed"] = t.seed;
    reg_.set_params(t.id, flat);
  }
}

void Recorder::ingest_artifact_metrics(const std::string& key, const std::filesystem::path& dir) {
  std::ifstream in(dir / kMetricsFile);
  std::vector<registry::MetricPoint> points;
  std::map<std::string, double> summaries;
  std::string line;
  while (std::getline(in, line)) {
    Json e;
    try {
      e = Json::parse(line);
    } catch (const std::exception&) {
      continue;  // a torn last line of a killed writer
    }
    if (e.value("t", "") == "m")
      points.push_back({key, e.value("step", int64_t{0}), e.value("k", ""), e.value("v", 0.0), e.value("time", 0.0)});
    else if (e.value("t", "") == "s")
      summaries[e.value("k", "")] = e.value("v", 0.0);
  }
  append_metrics(points);
  set_summaries(key, summaries);
}

void Recorder::write_users(size_t i) {
  const Instance& in = instances_[i];
  for (const auto& [trial, node] : in.def->users) {
    registry::NodeRunRecord r;
    r.run_id = plan_.trials[trial].id;
    r.node = node;
    r.cache_key = in.def->key;
    r.plugin = in.def->plugin;
    r.plugin_version = in.def->plugin_version;
    r.status = to_string(in.state);
    r.reason = in.reason;
    r.exit_code = in.exit_code;
    r.signal = in.signal;
    r.log_path = in.log_path;
    r.artifact_path = succeeded(in.state) ? paths_.artifacts().artifact(in.def->key).string() : "";
    r.started = in.started;
    r.finished = in.finished;
    r.attempts = in.attempts;
    pending_.node_runs[{r.run_id, r.node}] = std::move(r);
  }
}

void Recorder::resolve(size_t i) {
  Instance& in = instances_[i];
  if (succeeded(in.state))
    for (size_t d : in.dependants)
      if (instances_[d].unmet > 0) --instances_[d].unmet;
  for (const auto& [trial, _] : in.def->users) {
    if (trial_open_[trial] > 0) --trial_open_[trial];
    if (!succeeded(in.state) && trial_status_[trial] == "running") {
      trial_status_[trial] = in.state == NodeState::Interrupted ? "interrupted" : "failed";
      if (trial_status_[trial] == "failed") ++failed_trials_;
    }
    close_trial_if_complete(trial);
  }
}

void Recorder::close_trial_if_complete(size_t trial) {
  if (trial_open_[trial] != 0) return;
  std::string status = trial_status_[trial] == "running" ? "done" : trial_status_[trial];
  trial_status_[trial] = status;
  std::string reason;
  for (const auto& [node, key] : plan_.trials[trial].nodes) {
    const Instance& in = instances_[index_of_.at(key)];
    if (!succeeded(in.state) && reason.empty()) reason = node + ": " + in.reason;
  }
  pending_.statuses[plan_.trials[trial].id] = {status, reason, now_seconds()};
}

void Recorder::mark_running(size_t i, const std::string& log_path) {
  Instance& in = instances_[i];
  in.state = NodeState::Running;
  in.started = now_seconds();
  in.log_path = log_path;
  write_users(i);
}

void Recorder::mark_done(size_t i, int exit_code) {
  Instance& in = instances_[i];
  in.state = NodeState::Done;
  in.finished = now_seconds();
  in.exit_code = exit_code;
  in.reason.clear();
  write_users(i);
  resolve(i);
}

void Recorder::mark_failed(size_t i, const std::string& reason, std::optional<int> code, std::optional<int> sig) {
  Instance& in = instances_[i];
  in.state = NodeState::Failed;
  in.finished = now_seconds();
  in.reason = reason;
  in.exit_code = code;
  in.signal = sig;
  write_users(i);
  resolve(i);
}

void Recorder::mark_skipped(size_t i, const std::string& reason) {
  Instance& in = instances_[i];
  in.state = NodeState::Skipped;
  in.reason = reason;
  write_users(i);
  resolve(i);
}

void Recorder::mark_interrupted(size_t i, std::optional<int> code, std::optional<int> sig) {
  Instance& in = instances_[i];
  in.state = NodeState::Interrupted;
  in.finished = now_seconds();
  in.reason = "interrupted";
  in.exit_code = code;
  in.signal = sig;
  write_users(i);
  resolve(i);
}

void Recorder::append_metrics(const std::vector<registry::MetricPoint>& points) {
  pending_.metrics.insert(pending_.metrics.end(), points.begin(), points.end());
  if (pending_.metrics.size() >= kMaxPendingPoints) flush();
}

void Recorder::set_summaries(const std::string& key, const std::map<std::string, double>& values) {
  if (!values.empty()) pending_.summaries[key] = values;
}

bool Recorder::has_pending() const {
  return !pending_.node_runs.empty() || !pending_.statuses.empty() || !pending_.metrics.empty() ||
         !pending_.summaries.empty();
}

// Writes only what is pending, so that the batch can be retried as a whole.
void Recorder::flush() {
  if (!has_pending()) return;
  reg_.batch("record node states", [&] {
    for (const auto& [_, r] : pending_.node_runs) reg_.upsert_node_run(r);
    for (const auto& [run, s] : pending_.statuses) reg_.set_run_status(run, s.status, s.reason, s.finished);
    if (!pending_.metrics.empty()) reg_.append_metrics(pending_.metrics);
    for (const auto& [key, values] : pending_.summaries) reg_.set_summaries(key, values);
  });
  pending_ = Pending();
}

RunOutcome Recorder::end(bool interrupted) {
  RunOutcome out;
  out.was_interrupted = interrupted;
  for (const auto& in : instances_) {
    switch (in.state) {
      case NodeState::Done: ++out.done; break;
      case NodeState::Cached: ++out.cached; break;
      case NodeState::Failed: ++out.failed; break;
      case NodeState::Skipped: ++out.skipped; break;
      case NodeState::Interrupted: ++out.interrupted; break;
      default: break;
    }
  }
  const double now = now_seconds();
  for (size_t t = 0; t < plan_.trials.size(); ++t) {
    if (trial_open_[t] == 0) continue;
    // Nodes never started because of an interrupt or --max-failures.
    pending_.statuses[plan_.trials[t].id] = {interrupted ? "interrupted" : "pending",
                                             interrupted ? "interrupted" : "not scheduled (failure limit reached)", now};
  }
  flush();
  out.trials_failed = failed_trials_;
  return out;
}

}  // namespace mstar
