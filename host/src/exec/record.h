// State of each node instance during a run, mirrored into the registry.
// Every transition goes through here so that the registry and the
// scheduler can never disagree about a node.
//
// Transitions are written in batches: they wait in memory until flush(),
// which the scheduler calls once per turn of its event loop, so that the
// nodes that end together, and the nodes started in their place, cost one
// transaction rather than four each. What a host killed before a flush has
// not written is not lost: a node reports done only after its artifact is
// published, and the next run finds the artifact complete, records the node
// as cached and re-ingests its metrics from the artifact's metrics.jsonl.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exec/plan.h"
#include "mstar/registry/registry.h"
#include "util/paths.h"

namespace mstar {

struct RunOutcome;

enum class NodeState { Pending, Running, Done, Cached, Failed, Skipped, Interrupted };
const char* to_string(NodeState s);

struct Instance {
  const NodeInstance* def = nullptr;
  NodeState state = NodeState::Pending;
  int attempts = 0;
  size_t unmet = 0;               // upstream instances not yet done
  std::vector<size_t> dependants;
  double started = 0, finished = 0;
  std::string reason, log_path;
  std::optional<int> exit_code, signal;
};

class Recorder {
 public:
  Recorder(const Plan& plan, registry::Registry& reg);

  // Writes the sweep, its trials and their params; marks instances whose
  // artifact is complete as cached (re-ingesting their metrics if the
  // registry lacks them: the host may have died after the node finished).
  void begin(const Paths& paths, bool force);
  RunOutcome end(bool interrupted);

  size_t size() const { return instances_.size(); }
  Instance& at(size_t i) { return instances_[i]; }

  void mark_running(size_t i, const std::string& log_path);
  void mark_done(size_t i, int exit_code);
  void mark_failed(size_t i, const std::string& reason, std::optional<int> code, std::optional<int> sig);
  void mark_skipped(size_t i, const std::string& reason);
  void mark_interrupted(size_t i, std::optional<int> code, std::optional<int> sig);
  void append_metrics(const std::vector<registry::MetricPoint>& points);
  void set_summaries(const std::string& key, const std::map<std::string, double>& values);
  // Writes the pending transitions in one transaction.
  void flush();
  bool has_pending() const;

  size_t failed_trials() const { return failed_trials_; }

 private:
  void write_sweep();  // the sweep, its trials and their params
  void write_users(size_t i);
  void resolve(size_t i);  // a terminal state: release dependants, close trials
  void close_trial_if_complete(size_t trial);
  void ingest_artifact_metrics(const std::string& key, const std::filesystem::path& dir);

  const Plan& plan_;
  registry::Registry& reg_;
  std::vector<Instance> instances_;
  std::map<std::string, size_t> index_of_;
  std::vector<size_t> trial_open_;  // nodes of each trial not yet terminal
  std::vector<std::string> trial_status_;
  Paths paths_;
  size_t failed_trials_ = 0;
  double start_ = 0;

  static constexpr size_t kMaxPendingPoints = 4096;
  struct RunStatus {
    std::string status, reason;
    double finished = 0;
  };
  struct Pending {
    std::map<std::pair<std::string, std::string>, registry::NodeRunRecord> node_runs;  // by (run, node): the last wins
    std::map<std::string, RunStatus> statuses;                                          // by run
    std::vector<registry::MetricPoint> metrics;
    std::map<std::string, std::map<std::string, double>> summaries;  // by cache key
  };
  Pending pending_;
};

// The environment a trial records (env_json): versions, commit, host, seed,
// and each plugin library with its SHA-256.
Json environment_record(const Plan& plan, const PlannedTrial& trial);

}  // namespace mstar
